// hwca-node serving: the kubelet's serving certificate (kubelet-serving), got and renewed
// over mutual TLS with the node's TPM-bound client identity. The kubelet reads its serving
// key from a file (tlsPrivateKeyFile) and cannot use a TPM key, so this key is a software
// key made here, written with mode 0600; what the TPM proves is the node's right to have a
// certificate for it, and the certificate names only what the CA registered for the node.
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>

#include "ca/certificate_builder.hpp"
#include "ca/san.hpp"
#include "ca/serial.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"
#include "k8s/leaf_key.hpp"
#include "node/node_common.hpp"
#include "node/node_identity.hpp"

namespace hwca::node {
namespace {

constexpr const char* kDefaultCert = "/var/lib/kubelet/pki/kubelet-server-hwca.crt";
constexpr const char* kDefaultKey = "/var/lib/kubelet/pki/kubelet-server-hwca.key";
constexpr const char* kLabel = "kubelet-serving";

struct ServingArgs {
  std::string client_cert;
  std::string cert = kDefaultCert;
  std::string key = kDefaultKey;
  std::vector<std::string> ips;
  bool force = false;
};

// The SANs to ask for: the node's DNS name, then each address.
std::vector<std::string> wanted_sans(const std::string& node,
                                     const std::vector<std::string>& addresses) {
  std::vector<std::string> out{"DNS:" + node};
  for (const auto& a : addresses) out.push_back("IP:" + a);
  return out;
}

bool same_names(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// The pair in place, if both files read and belong together. In a single file (--cert and
// --key the same), the certificate and the key are both read from it.
struct Pair {
  ossl::Ptr<X509> cert;
  ossl::Ptr<EVP_PKEY> key;
};

Result<Pair> read_pair(const ServingArgs& a) {
  Pair p;
  auto cert = read_certificate(a.cert);
  if (!cert) return tl::unexpected(cert.error());
  p.cert = std::move(*cert);
  auto pem = read_file(a.key, 1 << 20);
  if (!pem) return tl::unexpected(pem.error());
  SecureString secret(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  auto key = k8s::parse_private_key(secret.view(), a.key);
  if (!key) return tl::unexpected(key.error());
  p.key = std::move(*key);
  return p;
}

// Why a new pair is needed now, or "" when the one in place is current: for this node, its
// key, the SANs asked for, chaining to --ca-cert, and not yet two thirds through its life
// (`due` is then when it will be).
std::string why_new(const Options& o, const ServingArgs& a, const std::string& node,
                    const std::vector<std::string>& sans, std::time_t* due) {
  struct stat st {};
  if (::stat(a.cert.c_str(), &st) != 0 && errno == ENOENT) return "there is none yet";
  auto pair = read_pair(a);
  if (!pair) return "the one in place cannot be used (" + pair.error().message + ")";
  if (auto ok = check_issued(pair->cert.get(), pair->key.get(), node, o.ca_cert); !ok) {
    return "the one in place does not check (" + ok.error().message + ")";
  }
  auto have = ca::certificate_sans(pair->cert.get());
  if (!same_names(have, sans)) {
    return "its SANs differ (" + join(have) + " in place, " + join(sans) + " asked for)";
  }
  *due = renewal_time(pair->cert.get());
  if (std::time(nullptr) >= *due) return "it is due (two thirds of its life have passed)";
  if (a.force) return "--force";
  return "";
}

// The new pair takes the old one's place: both written beside their files first (the key
// with mode 0600), then renamed over them, the key first. If the certificate cannot follow,
// the old key is put back, so the files never hold a key and a certificate that do not
// belong together once this returns. In one file, one rename.
Status install(const ServingArgs& a, const SecureString& key_pem, const std::string& cert_pem) {
  const std::string staged_key = staged_path(a.key), staged_cert = staged_path(a.cert);
  if (a.cert == a.key) {
    std::string both = cert_pem;
    both.append(key_pem.view());
    auto ok = write_file_atomic(a.key, both, 0600);
    OPENSSL_cleanse(both.data(), both.size());
    return ok;
  }
  std::string kept_key = staged_key;  // "<dir>/.<name>.old"
  kept_key.replace(kept_key.size() - 4, 4, ".old");
  auto cleanup = [&] {
    ::unlink(staged_key.c_str());
    ::unlink(staged_cert.c_str());
    ::unlink(kept_key.c_str());
  };
  cleanup();  // left by a run that stopped half way
  if (auto ok = write_file_atomic(staged_key, key_pem.view(), 0600); !ok) {
    cleanup();
    return ok;
  }
  if (auto ok = write_file_atomic(staged_cert, cert_pem, 0644); !ok) {
    cleanup();
    return ok;
  }
  const bool had_key = ::link(a.key.c_str(), kept_key.c_str()) == 0;
  if (!had_key && errno != ENOENT) {
    Error e{ErrorKind::io, "cannot keep " + printable(a.key) + " as " + printable(kept_key) +
                               " while it is replaced: " + error_text(errno)};
    cleanup();
    return tl::unexpected(e);
  }
  if (auto ok = rename_synced(staged_key, a.key); !ok) {
    cleanup();
    return ok;
  }
  if (auto ok = rename_synced(staged_cert, a.cert); !ok) {
    if (had_key) {
      (void)rename_synced(kept_key, a.key);
    } else {
      ::unlink(a.key.c_str());
    }
    cleanup();
    return ok;
  }
  ::unlink(kept_key.c_str());
  return {};
}

int serving(const Options& o, const ServingArgs& a) {
  auto addresses = ca::canonical_ips(a.ips);
  if (!addresses) return report(addresses.error());
  for (const auto* path : {&a.cert, &a.key}) {
    if (auto ok = check_cert_out(*path); !ok) return report(ok.error());
  }
  // Who the node is, from its client certificate, before the TPM is opened: a pair that is
  // current needs neither the TPM nor the server.
  auto client = read_certificate(a.client_cert);
  if (!client) return report(client.error());
  auto node = node_of(client->get(), a.client_cert);
  if (!node) return report(node.error());
  const auto sans = wanted_sans(*node, *addresses);
  std::time_t due = 0;
  const std::string why = why_new(o, a, *node, sans, &due);
  if (why.empty()) {
    std::cout << "serving certificate " << a.cert << " is not due for renewal until "
              << rfc3339(due) << " (two thirds of its life); --force renews now\n";
    return 0;
  }
  auto id = load_identity(o, a.client_cert);
  if (!id) return report(id.error());
  OSSL_LIB_CTX* libctx = id->setup.crypto->libctx();
  auto fresh = k8s::generate_leaf_key(libctx, tokens::KeyType::ec_p256);
  if (!fresh) return report(fresh.error());
  auto csr = node_request(libctx, fresh->get(), id->node, sans);
  if (!csr) return report(csr.error());
  auto cert = enroll_as(o, *id, kLabel, *csr, false);
  if (!cert) {
    return report(Error{cert.error().kind, cert.error().message + "; the files in place are kept"});
  }
  const std::string serial = ca::serial_hex(X509_get0_serialNumber(cert->get()));
  auto refuse = [&](const std::string& what) {
    return report(Error{ErrorKind::usage, "the serving certificate the server returned (" + serial +
                                              ") " + what + "; the files in place are kept"});
  };
  if (auto ok = check_issued(cert->get(), fresh->get(), id->node, o.ca_cert); !ok) {
    return refuse("does not check: " + ok.error().message);
  }
  if (auto got = ca::certificate_sans(cert->get()); !same_names(got, sans)) {
    return refuse("names " + join(got) + ", not " + join(sans));
  }
  if (X509_check_purpose(cert->get(), X509_PURPOSE_SSL_SERVER, 0) != 1) {
    ERR_clear_error();
    return refuse("is not for a TLS server");
  }
  auto key_pem = k8s::private_key_pem(fresh->get());
  if (!key_pem) return report(key_pem.error());
  if (auto ok = install(a, *key_pem, ca::cert_pem(cert->get())); !ok) {
    return report(Error{ok.error().kind, "serving certificate " + serial +
                                             " was issued but not installed (the files in "
                                             "place are kept): " +
                                             ok.error().message});
  }
  std::cout << "serving certificate for node '" << id->node << "': " << serial << " until "
            << rfc3339(ca::unix_time(X509_get0_notAfter(cert->get()))) << " for " << join(sans)
            << " in " << a.cert << (a.cert == a.key ? "" : ", key (made on this host) in " + a.key)
            << " (" << why << ")\n";
  return 0;
}

}  // namespace

void add_serving_command(CLI::App& app, Options& o, int& exit_code) {
  static ServingArgs args;
  auto* s = app.add_subcommand(
      "serving",
      "get or renew the kubelet's serving certificate (EST label kubelet-serving) over mutual "
      "TLS with the node's TPM-bound client certificate: a new key made on this host (the "
      "kubelet reads it from a file), the node's DNS name and --ip addresses the CA registered "
      "for it. Does nothing while the pair in place is current and less than two thirds "
      "through its life (--force renews now); the pair is replaced only once a checked "
      "certificate came back");
  common_options(s, o);
  s->add_option("--cert", args.client_cert, "the node's TPM-bound client certificate")
      ->required()
      ->type_name("FILE");
  s->add_option("--ip", args.ips,
                "an IP address of the node to name (repeat for several); the CA refuses any it "
                "did not register for the node ('hwca bootstrap create --ip', 'hwca node "
                "register --ip')")
      ->type_name("ADDRESS");
  s->add_option("--serving-cert", args.cert,
                std::string("where the kubelet's tlsCertFile is (default ") + kDefaultCert + ")")
      ->type_name("FILE");
  s->add_option("--serving-key", args.key,
                std::string("where the kubelet's tlsPrivateKeyFile is, written with mode 0600 "
                            "(default ") +
                    kDefaultKey + "); the same file as --serving-cert holds both, replaced at once")
      ->type_name("FILE");
  s->add_flag("--force", args.force, "renew even if not due");
  s->callback([&] { exit_code = serving(o, args); });
}

}  // namespace hwca::node
