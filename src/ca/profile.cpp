#include "ca/profile.hpp"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyCertSign = 5;
constexpr int kCrlSign = 6;

const char* const kKeyUsageNames[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                      "dataEncipherment", "keyAgreement",   "keyCertSign",
                                      "cRLSign",          "encipherOnly",   "decipherOnly"};

struct NamedNid {
  const char* name;
  int nid;
};
const NamedNid kExtKeyUsages[] = {
    {"serverAuth", NID_server_auth},  {"clientAuth", NID_client_auth},
    {"codeSigning", NID_code_sign},   {"emailProtection", NID_email_protect},
    {"timeStamping", NID_time_stamp}, {"OCSPSigning", NID_OCSP_sign},
};

std::vector<int> leaf_subject() {
  return {NID_commonName,  NID_organizationName,    NID_organizationalUnitName,
          NID_countryName, NID_stateOrProvinceName, NID_localityName};
}

Profile leaf(const std::string& name, const std::string& description, std::vector<int> eku) {
  Profile p;
  p.name = name;
  p.description = description;
  p.key_usage = {kDigitalSignature, kKeyEncipherment};
  p.ext_key_usage = std::move(eku);
  p.subject_attributes = leaf_subject();
  return p;
}

std::map<std::string, Profile> make_builtins() {
  std::map<std::string, Profile> out;
  Profile server =
      leaf("server", "TLS server: serverAuth, DNS and IP names (at least one)", {NID_server_auth});
  server.san_types = {SanType::dns, SanType::ip};
  server.require_san = true;
  Profile client =
      leaf("client", "TLS client: clientAuth; DNS, email and URI names allowed", {NID_client_auth});
  client.san_types = {SanType::dns, SanType::email, SanType::uri};
  Profile peer = leaf("peer", "TLS server and client (etcd peers): DNS and IP names",
                      {NID_server_auth, NID_client_auth});
  peer.san_types = {SanType::dns, SanType::ip};
  peer.require_san = true;
  Profile ica;
  ica.name = "intermediate-ca";
  ica.description = "a CA under this one, path length 0; no SANs";
  ica.ca = true;
  ica.path_len = 0;
  ica.key_usage = {kDigitalSignature, kKeyCertSign, kCrlSign};
  ica.subject_attributes = leaf_subject();
  ica.max_sans = 0;
  ica.default_days = 1825;
  ica.max_days = 3650;
  // The kubelet's certificates (Kubernetes' kube-apiserver-client-kubelet and kubelet-serving
  // signers): CN=system:node:<name>, O=system:nodes, nothing else; which node may ask for
  // which name is src/est/node_policy.hpp's check.
  Profile kubelet_client =
      leaf("kubelet-client",
           "kubelet client certificate: CN=system:node:<name>, O=system:nodes, clientAuth, no SANs",
           {NID_client_auth});
  kubelet_client.subject_attributes = {NID_commonName, NID_organizationName};
  kubelet_client.max_sans = 0;
  Profile kubelet_serving = leaf("kubelet-serving",
                                 "kubelet serving certificate: CN=system:node:<name>, "
                                 "O=system:nodes, serverAuth, the node's DNS and IP names",
                                 {NID_server_auth});
  kubelet_serving.subject_attributes = {NID_commonName, NID_organizationName};
  kubelet_serving.san_types = {SanType::dns, SanType::ip};
  kubelet_serving.require_san = true;
  // Its key is a file on the node (the kubelet cannot use a TPM key): a month by default,
  // renewed by hwca-node serving after twenty days.
  kubelet_serving.default_days = 30;
  // What `hwca-node kubelet-credential` hands the kubelet: a client certificate for a key
  // held in memory, an hour long, issued only to a node authenticated by its TPM-bound
  // kubelet-client certificate. It never authenticates to the EST server itself.
  Profile kubelet_credential = kubelet_client;
  kubelet_credential.name = "kubelet-credential";
  kubelet_credential.description =
      "short-lived kubelet client certificate (1 hour) for hwca-node kubelet-credential";
  kubelet_credential.lifetime_seconds = 3600;
  for (Profile* p :
       {&server, &client, &peer, &ica, &kubelet_client, &kubelet_serving, &kubelet_credential}) {
    out[p->name] = *p;
  }
  return out;
}

std::string curve_of(const EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) !=
      1) {
    ERR_clear_error();
    return {};
  }
  int nid = OBJ_txt2nid(name);
  if (nid == NID_X9_62_prime256v1) return "P-256";
  if (nid == NID_secp384r1) return "P-384";
  if (nid == NID_secp521r1) return "P-521";
  return name;
}

}  // namespace

Profile plain_profile() {
  Profile p;
  p.key_usage = {kDigitalSignature};
  p.subject_attributes = leaf_subject();
  p.max_sans = 0;
  return p;
}

const std::map<std::string, Profile>& builtin_profiles() {
  static const std::map<std::string, Profile> profiles = make_builtins();
  return profiles;
}

Result<Profile> find_profile(const std::map<std::string, Profile>& user, const std::string& name) {
  if (auto it = user.find(name); it != user.end()) return it->second;
  if (auto it = builtin_profiles().find(name); it != builtin_profiles().end()) return it->second;
  std::string known;
  for (const auto& [n, p] : builtin_profiles()) known += (known.empty() ? "" : ", ") + n;
  for (const auto& [n, p] : user) known += ", " + n;
  return fail(ErrorKind::not_found,
              "no profile named '" + printable(name) + "' (profiles: " + known + ")");
}

Status check_key(const Profile& profile, const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (!profile.allow_rsa) {
      return fail(ErrorKind::usage, "profile '" + profile.name + "' does not accept RSA keys");
    }
    if (bits < profile.rsa_min_bits) {
      return fail(ErrorKind::usage, "the request's RSA key has " + std::to_string(bits) +
                                        " bits; profile '" + profile.name + "' needs at least " +
                                        std::to_string(profile.rsa_min_bits));
    }
    if (bits > kMaxRsaBits) {
      return fail(ErrorKind::usage, "the request's RSA key has " + std::to_string(bits) +
                                        " bits; hwca accepts at most " +
                                        std::to_string(kMaxRsaBits));
    }
    return {};
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::string curve = curve_of(key);
    if (profile.ec_curves.count(curve) == 0) {
      std::string allowed;
      for (const auto& c : profile.ec_curves) allowed += (allowed.empty() ? "" : ", ") + c;
      return fail(ErrorKind::usage, "the request's EC key is on curve " +
                                        (curve.empty() ? "(unnamed)" : printable(curve)) +
                                        "; profile '" + profile.name + "' accepts " +
                                        (allowed.empty() ? "no EC keys" : allowed));
    }
    return {};
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return fail(ErrorKind::usage, std::string("the request's key type ") +
                                    (type != nullptr ? type : "(unknown)") +
                                    " is not supported (RSA or EC P-256/P-384)");
}

Result<int> key_usage_bit(const std::string& name) {
  for (int i = 0; i < static_cast<int>(std::size(kKeyUsageNames)); ++i) {
    if (name == kKeyUsageNames[i]) return i;
  }
  return fail(ErrorKind::usage, "unknown keyUsage '" + printable(name) +
                                    "' (digitalSignature, keyEncipherment, keyCertSign, ...)");
}

const char* key_usage_name(int bit) {
  if (bit < 0 || bit >= static_cast<int>(std::size(kKeyUsageNames))) return "?";
  return kKeyUsageNames[bit];
}

Result<int> ext_key_usage_nid(const std::string& name) {
  for (const auto& e : kExtKeyUsages) {
    if (name == e.name) return e.nid;
  }
  return fail(ErrorKind::usage,
              "unknown extKeyUsage '" + printable(name) +
                  "' (serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, "
                  "OCSPSigning)");
}

const char* ext_key_usage_name(int nid) {
  for (const auto& e : kExtKeyUsages) {
    if (nid == e.nid) return e.name;
  }
  return "?";
}

}  // namespace hwca::ca
