#include "ca/ca_init.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "ca/audit_trail.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/serial.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

// A CA of a shared database (InitCaRequest::catalog): published there (the commit point),
// taken in by this home, then audited; withdrawn again if the audit line cannot be written.
Result<InitCaResult> publish_ca(Home& home, const InitCaRequest& req, const CaEntry& entry,
                                ossl::Ptr<X509> cert, const nlohmann::json& data) {
  SharedCa shared{req.name, ca_entry_yaml(entry), cert_pem(cert.get()),
                  static_cast<int64_t>(std::time(nullptr)), req.requester};
  if (auto ok = req.catalog->publish_ca(shared); !ok) return wrap(ok.error(), "CA not created");
  if (auto ok = home.adopt_shared({shared}, "the shared database"); !ok) {
    (void)req.catalog->withdraw_ca(req.name);
    return wrap(ok.error(), "CA not created");
  }
  auto audit = open_audit(home);
  if (auto ok = audit->append("ca.created", data); !ok) {
    if (auto undo = req.catalog->withdraw_ca(req.name); !undo) {
      return fail(ok.error().kind, "CA '" + req.name +
                                       "' is in the shared database but its creation could not "
                                       "be audited (" +
                                       ok.error().message + ") nor undone (" +
                                       undo.error().message + ")");
    }
    return wrap(ok.error(), "CA not created");
  }
  return InitCaResult{entry, std::move(cert)};
}

}  // namespace

Result<ossl::Ptr<X509>> load_ca_cert(const Home& home, const std::string& name) {
  auto it = home.config().cas.find(name);
  if (it == home.config().cas.end()) {
    return fail(ErrorKind::not_found,
                "no CA named '" + printable(name) + "' in " + home.dir() + " (see 'hwca ca list')");
  }
  // A shared CA's certificate is the database's; the others' are files of the home.
  const std::string* shared = home.shared_cert_pem(name);
  std::string path =
      shared ? "the certificate of shared CA '" + name + "'" : home.path(it->second.cert);
  auto text = shared ? Result<std::string>(*shared) : read_file(path, 1 << 20);
  if (!text) return tl::unexpected(text.error());
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  ossl::Ptr<X509> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) {
    ERR_clear_error();
    return fail(ErrorKind::usage, path + " does not hold a PEM certificate");
  }
  return x;
}

Result<std::string> read_ca_chain_pem(const Home& home, const std::string& name) {
  std::string out;
  for (std::string n = name; !n.empty();) {
    auto cert = load_ca_cert(home, n);
    if (!cert) return tl::unexpected(cert.error());
    out += cert_pem(cert->get());
    n = home.config().cas.at(n).parent;
  }
  return out;
}

Status check_ca_usable(const Home& home, IssuanceStore* store, const std::string& name,
                       const X509* cert) {
  const std::time_t now = std::time(nullptr);
  const std::time_t not_before = unix_time(X509_get0_notBefore(cert));
  const std::time_t not_after = unix_time(X509_get0_notAfter(cert));
  if (now >= not_after) {
    return fail(ErrorKind::conflict,
                "CA '" + name + "' expired on " + utc_text(not_after) + "; it signs nothing");
  }
  if (now < not_before) {
    return fail(ErrorKind::conflict,
                "CA '" + name + "' is not valid before " + utc_text(not_before));
  }
  if (store == nullptr) return {};
  // A CA is also revoked when any CA above it is: walk up the chain.
  for (std::string child = name, parent = home.config().cas.at(name).parent; !parent.empty();
       child = parent, parent = home.config().cas.at(parent).parent) {
    auto child_cert = load_ca_cert(home, child);
    if (!child_cert) return tl::unexpected(child_cert.error());
    auto row = store->find(parent, serial_hex(X509_get0_serialNumber(child_cert->get())));
    if (!row) return tl::unexpected(row.error());
    if (*row && (*row)->revoked) {
      return fail(ErrorKind::conflict, "CA '" + child + "' was revoked by '" + parent + "' on " +
                                           utc_text((*row)->revoked_at) + "; " +
                                           (child == name ? "it" : "CA '" + name + "'") +
                                           " signs nothing");
    }
  }
  return {};
}

Result<ossl::Ptr<EVP_PKEY>> load_ca_key(const Home& home, const CryptoContext& crypto,
                                        const std::string& name, const X509* cert,
                                        const tokens::OpenOptions& options) {
  const std::string& uri = home.config().cas.at(name).key;
  auto key = crypto.load_private_key(uri, options);
  if (!key) return wrap(key.error(), "the key of CA '" + name + "'");
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key->get()) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::conflict, "the key " + uri + " is not the key of CA '" + name +
                                         "' (its public key differs from the certificate " +
                                         home.path(home.config().cas.at(name).cert) + ")");
  }
  return key;
}

Result<InitCaResult> init_ca(Home& home, const CryptoContext& crypto, const InitCaRequest& req) {
  if (!valid_ca_name(req.name)) {
    return fail(ErrorKind::usage,
                "a CA name is 1-64 of a-z, 0-9 and '-', not '" + printable(req.name) + "'");
  }
  if (home.config().cas.count(req.name) != 0) {
    return fail(ErrorKind::conflict,
                "a CA named '" + req.name + "' already exists in " + home.dir());
  }
  if (req.days <= 0) return fail(ErrorKind::usage, "--days must be positive");
  if (req.path_len && *req.path_len < 0) return fail(ErrorKind::usage, "--path-len must be >= 0");
  auto subject = parse_dn(req.subject);
  if (!subject) return tl::unexpected(subject.error());
  if (auto ok = check_distribution_urls(req.urls.crl, "--crl-url"); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = check_distribution_urls(req.urls.ca_issuers, "--ca-issuers-url"); !ok) {
    return tl::unexpected(ok.error());
  }
  std::vector<San> sans;
  for (const auto& text : req.sans) {
    auto san = parse_san(text, {});
    if (!san) return wrap(san.error(), "--san");
    if (std::find(sans.begin(), sans.end(), *san) == sans.end()) sans.push_back(*san);
  }

  std::time_t now = std::time(nullptr);
  CertificateSpec spec;
  spec.not_before = now - kBackdateSeconds;
  spec.not_after = now + static_cast<std::time_t>(req.days) * 86400;
  spec.ca = true;
  spec.key_usage_bits = {0, 5, 6};  // digitalSignature, keyCertSign, cRLSign
  spec.path_len = req.path_len;
  spec.sans = sans;

  ossl::Ptr<X509> parent_cert;
  ossl::Ptr<EVP_PKEY> parent_key;
  if (!req.parent.empty()) {
    auto pc = load_ca_cert(home, req.parent);
    if (!pc) return tl::unexpected(pc.error());
    parent_cert = std::move(*pc);
    if (auto ok = check_ca_usable(home, req.store, req.parent, parent_cert.get()); !ok) {
      return tl::unexpected(ok.error());
    }
    long parent_len = X509_get_pathlen(parent_cert.get());
    if (parent_len == 0) {
      return fail(ErrorKind::usage, "CA '" + req.parent +
                                        "' has path length 0: it cannot "
                                        "sign another CA");
    }
    if (!spec.path_len) spec.path_len = 0;
    if (parent_len > 0 && *spec.path_len >= parent_len) {
      return fail(ErrorKind::usage,
                  "--path-len must be below the parent's (" + std::to_string(parent_len) + ")");
    }
    spec.not_after = std::min(spec.not_after, unix_time(X509_get0_notAfter(parent_cert.get())));
    spec.urls = home.config().cas.at(req.parent).urls;  // the issuer's, as for any certificate
    auto pk = load_ca_key(home, crypto, req.parent, parent_cert.get(), req.key_options);
    if (!pk) return tl::unexpected(pk.error());
    parent_key = std::move(*pk);
  }
  auto key = crypto.load_private_key(req.key_uri, req.key_options);
  if (!key) return tl::unexpected(key.error());
  auto serial = Serial::random();
  if (!serial) return tl::unexpected(serial.error());
  // Reserved under the CA that signs (the parent; a root itself) before its key signs.
  if (req.store != nullptr) {
    const std::string signer = req.parent.empty() ? req.name : req.parent;
    auto taken = req.store->reserve_serials(signer, {serial->hex()});
    if (!taken) return wrap(taken.error(), "CA not created");
    if (taken->empty()) {
      return fail(ErrorKind::conflict, "CA not created: serial " + serial->hex() + " of CA '" +
                                           signer + "' is taken; run the command again");
    }
  }

  spec.subject = subject->get();
  spec.subject_key = key->get();
  spec.issuer = parent_cert.get();
  spec.issuer_key = parent_key ? parent_key.get() : key->get();
  spec.serial = *serial;
  auto cert = build_certificate(spec, crypto.libctx());
  if (!cert) return tl::unexpected(cert.error());

  // Record the certificate (it exists once signed), write the files, then the
  // configuration (the commit point), then the audit line.
  if (req.store != nullptr) {
    IssuedCert row;
    row.serial = serial->hex();
    row.ca = req.parent.empty() ? req.name : req.parent;
    row.profile = req.parent.empty() ? "root-ca" : "intermediate-ca";
    row.subject = dn_text(subject->get());
    for (const auto& san : sans) row.sans.push_back(san.text());
    row.not_before = spec.not_before;
    row.not_after = spec.not_after;
    row.requester = req.requester;
    row.der = cert_der(cert->get());
    if (row.der.empty()) return fail(ErrorKind::internal, "cannot encode the CA certificate");
    if (auto ok = req.store->record({row}); !ok) return wrap(ok.error(), "CA not created");
  }
  std::string folder = "cas/" + req.name;
  CaEntry entry;
  entry.key = req.key_uri;
  entry.cert = folder + "/cert.pem";
  entry.parent = req.parent;
  entry.urls = req.urls;
  nlohmann::json data = {{"ca", req.name},
                         {"subject", dn_text(subject->get())},
                         {"serial", serial->hex()},
                         {"key", req.key_uri},
                         {"parent", req.parent},
                         {"not_after", spec.not_after},
                         {"sha256", fingerprint_sha256(cert->get())},
                         {"requester", req.requester}};
  if (req.catalog != nullptr) return publish_ca(home, req, entry, std::move(*cert), data);
  std::string chain = cert_pem(cert->get());
  if (!req.parent.empty()) {
    auto parents = read_ca_chain_pem(home, req.parent);
    if (!parents) return tl::unexpected(parents.error());
    chain += *parents;
  }
  if (auto made = home.make_ca_folder(req.name); !made) return tl::unexpected(made.error());
  auto cleanup = [&] {
    ::unlink(home.path(folder + "/cert.pem").c_str());
    ::unlink(home.path(folder + "/chain.pem").c_str());
    ::rmdir(home.path(folder).c_str());
  };
  if (auto ok = write_file_atomic(home.path(entry.cert), cert_pem(cert->get()), 0644); !ok) {
    cleanup();
    return tl::unexpected(ok.error());
  }
  if (auto ok = write_file_atomic(home.path(folder + "/chain.pem"), chain, 0644); !ok) {
    cleanup();
    return tl::unexpected(ok.error());
  }
  Config before = home.config();
  Config after = before;
  after.cas[req.name] = entry;
  if (auto ok = home.save(after); !ok) {
    cleanup();
    return tl::unexpected(ok.error());
  }
  auto audit_trail = open_audit(home);
  AuditTrail& audit = *audit_trail;
  if (auto ok = audit.append("ca.created", data); !ok) {
    // Unrecorded, the CA must not exist: take it out of the configuration again.
    if (auto undo = home.save(before); !undo) {
      return fail(ok.error().kind, "CA '" + req.name + "' is in " + home.path("config.yaml") +
                                       " but its creation could not be audited (" +
                                       ok.error().message + ") nor undone (" +
                                       undo.error().message + "); remove it by hand");
    }
    cleanup();
    return wrap(ok.error(), "CA not created");
  }
  return InitCaResult{entry, std::move(*cert)};
}

}  // namespace hwca::ca
