// The CA home: the folder holding a CA's state. It never holds a private key.
//
//   <home>/config.yaml     the CAs (name, key URI, certificate, parent), file names and
//                          the home's own certificate profiles
//   <home>/cas/<name>/     each CA's certificate (cert.pem) and chain (chain.pem)
//   <home>/issuance.db     the issuance database (issuance_store.hpp)
//   <home>/audit.log       the hash-chained audit log (audit_log.hpp)
//
// The home is `--home DIR`, else $HWCA_HOME, else /var/lib/hwca for root and
// $XDG_DATA_HOME/hwca (default ~/.local/share/hwca) for other users.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ca/ca_catalog.hpp"
#include "ca/distribution_urls.hpp"
#include "ca/profile.hpp"
#include "common/result.hpp"

namespace hwca::ca {

struct CaEntry {
  std::string key;     // key URI (pkcs11:..., later tpm2:...); never a pin-value
  std::string cert;    // certificate file, relative to the home
  std::string parent;  // name of the issuing CA; empty for a root
  // renewalKeyChange: an EST renewal (simplereenroll) may be for another key than its
  // client certificate's. Default false: a new key needs a fresh enrollment.
  bool renewal_key_change = false;
  // crlDistributionPoints / issuingCertificateURLs: where this CA's CRL and certificate are
  // published; every certificate it issues names them (a profile may replace them).
  DistributionUrls urls = {};
};

struct Config {
  std::map<std::string, CaEntry> cas;
  std::string database = "issuance.db";  // a file in the home, or a postgresql:// URL
  std::string audit_log = "audit.log";
  std::map<std::string, Profile> profiles;  // the home's own (profile_yaml.hpp)
  std::string profiles_yaml;                // their text, written back as it was read
};

// Parse and check config.yaml text; `source` names it in errors ("<home>/config.yaml").
Result<Config> parse_config(const std::string& text, const std::string& source);
std::string emit_config(const Config& config);
// One CA's config.yaml mapping as text: what a shared database keeps (ca_catalog.hpp).
std::string ca_entry_yaml(const CaEntry& entry);

// A CA name: 1-64 of a-z, 0-9 and '-', starting with a letter or digit.
bool valid_ca_name(const std::string& name);

std::string default_home();
std::string resolve_home(const std::string& option);

class Home {
 public:
  // Open the home at `dir`; with `create`, make it (mode 0700) and an empty config.
  static Result<Home> open(const std::string& dir, bool create);

  const std::string& dir() const { return dir_; }
  const Config& config() const { return config_; }
  std::string path(const std::string& relative) const { return dir_ + "/" + relative; }
  // The folder of CA `ca_name`'s files, cas/<ca_name> (and cas/), made 0700 if missing; its
  // path relative to the home. A CA of a shared database has none until something of its
  // is kept in this home (serve's TLS certificate).
  Result<std::string> make_ca_folder(const std::string& ca_name) const;
  // What open_database() opens: the configuration's PostgreSQL URL, or its SQLite file.
  std::string database_target() const;
  // Replace config.yaml atomically (mode 0600) and keep `config` as the current one. The
  // shared CAs (below) stay out of the file.
  Status save(const Config& config);

  // Take in the CAs a shared database keeps (ca_catalog.hpp), in memory: they join the
  // configuration's CAs, their certificates come from `cas` instead of files. A name that is
  // also a CA of config.yaml is refused (conflict), as is an entry that does not parse or
  // check; nothing is taken in then. `source` names the database in errors.
  Status adopt_shared(const std::vector<SharedCa>& cas, const std::string& source);
  // The PEM certificate of a shared CA, or null for a CA of config.yaml.
  const std::string* shared_cert_pem(const std::string& name) const;
  // Take in the profiles a shared database keeps (a `profiles:` mapping as YAML text; empty:
  // none) beside the home's own, in memory, instead of those taken in before. Refused as a
  // whole (conflict, usage), nothing changed, if one has the name of a profile of
  // config.yaml or does not parse or check.
  Status adopt_shared_profiles(const std::string& yaml, const std::string& source);

 private:
  std::string dir_;
  Config config_;
  std::map<std::string, std::string> shared_;  // shared CA -> its certificate (PEM)
  std::set<std::string> shared_profiles_;      // names of the shared profiles taken in
};

}  // namespace hwca::ca
