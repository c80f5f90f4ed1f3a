// Certificate profiles: what a certificate issued under a profile may and must contain.
// The profile decides key usage, extended key usage, basic constraints, which SAN types are
// taken from a request, the subject attributes allowed, the validity and the keys accepted.
// Built in: server, client, peer (server and client), intermediate-ca, and the kubelet's
// kubelet-client, kubelet-serving and kubelet-credential (subject CN and O only); a home may
// add its own under `profiles:` in config.yaml (docs/cli.md, "Profiles").
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ca/san.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

struct Profile {
  std::string name;
  std::string description;
  bool ca = false;                 // basicConstraints CA:TRUE (critical either way)
  std::optional<int> path_len;     // only with ca
  std::vector<int> key_usage;      // keyUsage bit numbers; keyEncipherment and dataEncipherment
                                   // are left out for keys that are not RSA
  std::vector<int> ext_key_usage;  // NIDs
  std::set<SanType> san_types;     // the SAN types taken from a request
  bool require_san = false;
  bool allow_wildcard = false;
  int max_sans = 100;
  std::vector<int> subject_attributes;  // NIDs a subject may hold, in no particular order
  bool require_common_name = true;
  int default_days = 365;
  int max_days = 397;
  // > 0: every certificate lives exactly this many seconds (cut to the CA's end), and a
  // requested number of days is refused (kubelet-credential: one hour).
  int lifetime_seconds = 0;
  // Accepted keys: RSA of at least rsa_min_bits (and at most 8192), EC on the listed curves.
  bool allow_rsa = true;
  int rsa_min_bits = 2048;
  std::set<std::string> ec_curves = {"P-256", "P-384"};
  // Replace the issuing CA's CRL and caIssuers URLs (distribution_urls.hpp) when set; an
  // empty list leaves the extension out. Unset: the CA's.
  std::optional<std::vector<std::string>> crl_urls;
  std::optional<std::vector<std::string>> ca_issuers_urls;
};

// Hard limits no profile can lift.
inline constexpr int kMaxSansLimit = 1000;
inline constexpr int kMaxRsaBits = 8192;
inline constexpr int kMaxDaysLimit = 36500;

const std::map<std::string, Profile>& builtin_profiles();

// Where a home profile without `base:` starts: a leaf with digitalSignature, the subject
// attributes CN, O, OU, C, ST and L, no extended key usage and no SANs.
Profile plain_profile();

// The profile called `name`: a home's own, else a built-in one.
Result<Profile> find_profile(const std::map<std::string, Profile>& user, const std::string& name);

// Check a public key against the profile's key rules; the error names the key.
Status check_key(const Profile& profile, const EVP_PKEY* key);

// keyUsage names as RFC 5280 spells them (digitalSignature, keyEncipherment, ...) and the
// extended key usages hwca knows by name (serverAuth, clientAuth, codeSigning,
// emailProtection, timeStamping, OCSPSigning).
Result<int> key_usage_bit(const std::string& name);
const char* key_usage_name(int bit);
Result<int> ext_key_usage_nid(const std::string& name);
const char* ext_key_usage_name(int nid);

}  // namespace hwca::ca
