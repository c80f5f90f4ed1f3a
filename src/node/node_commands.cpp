#include "node/node_commands.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/serial.hpp"
#include "common/file_util.hpp"
#include "common/pin_source.hpp"
#include "common/text.hpp"
#include "common/uri.hpp"
#include "k8s/leaf_key.hpp"
#include "node/attest_client.hpp"
#include "node/est_client.hpp"
#include "node/node_common.hpp"
#include "node/node_identity.hpp"

namespace hwca::node {
namespace {

struct EnrollArgs {
  std::string node, token_file, cert_out;
  bool new_key = false;
  bool attest = false;
  std::string ek;  // "rsa", "ecc" or empty (any)
};
struct RenewArgs {
  std::string cert;
  bool force = false;
  bool new_key = false;
  std::string ek;
};
struct EkShowArgs {
  std::string ek, out;
};
struct CredentialArgs {
  std::string cert;
};

// Write an issued certificate atomically. It was issued (and a bootstrap token spent for
// it): if the file cannot be written, the certificate goes to standard output instead of
// being lost, and the error says so.
Status save_certificate(const std::string& path, const X509* cert) {
  const std::string pem = ca::cert_pem(cert);
  auto ok = write_file_atomic(path, pem, 0644);
  if (ok) return ok;
  std::cout << pem << std::flush;
  return wrap(ok.error(), "certificate " + ca::serial_hex(X509_get0_serialNumber(cert)) +
                              " was issued but not saved (its PEM is on standard output)");
}

// enroll --new-key: the node key file --key names, and the key made beside it (the same URI
// but for its file), which replaces it only once a certificate for it came back.
struct NewKey {
  std::string path;        // the key file --key names
  std::string staged;      // the new key's file until then
  std::string staged_uri;  // --key with file=<staged>
};

Result<NewKey> new_key_of(const std::string& key_uri) {
  auto uri = parse_uri(key_uri);
  auto file = uri ? uri->path_attr("file") : std::nullopt;
  if (!uri || uri->scheme != "tpm2" || !file) {
    return fail(ErrorKind::usage,
                "--new-key replaces a TPM key file: give --key tpm2:file=PATH (a key at a "
                "persistent handle is not replaced)");
  }
  NewKey k;
  k.path = *file;
  k.staged = staged_path(k.path);
  for (auto& [name, value] : uri->path) {
    if (name == "file") value = k.staged;
  }
  k.staged_uri = format_uri(*uri);
  // Left by a run that stopped before its key took the file's place: no certificate was
  // installed for it, and it is made afresh.
  if (::unlink(k.staged.c_str()) != 0 && errno != ENOENT) {
    return fail(ErrorKind::io, "cannot remove " + printable(k.staged) + ": " + error_text(errno));
  }
  return k;
}

// The certificate for the new key, then the key, each replacing the old one by rename(2) in
// its folder: a failure before the key's rename leaves the old key and certificate as they
// were (and the new key removed).
Status install_new_key(const NewKey& k, const std::string& cert_out, const X509* cert) {
  const std::string serial = ca::serial_hex(X509_get0_serialNumber(cert));
  const std::string cert_staged = staged_path(cert_out);
  auto abandon = [&](const Error& e) {
    ::unlink(cert_staged.c_str());
    ::unlink(k.staged.c_str());
    return wrap(e, "certificate " + serial +
                       " was issued for a new key, which was dropped: the old key and "
                       "certificate are kept (revoke " +
                       serial + " on the CA)");
  };
  if (auto ok = write_file_atomic(cert_staged, ca::cert_pem(cert), 0644); !ok) {
    return abandon(ok.error());
  }
  if (auto ok = rename_synced(k.staged, k.path); !ok) return abandon(ok.error());
  if (auto ok = rename_synced(cert_staged, cert_out); !ok) {
    ::unlink(cert_staged.c_str());
    std::cout << ca::cert_pem(cert) << std::flush;
    return wrap(ok.error(), "the new key replaced " + printable(k.path) + " but certificate " +
                                serial + " could not be saved (its PEM is on standard output)");
  }
  return {};
}

tokens::tpm2::EkChoice ek_choice(const std::string& ek) {
  if (ek == "rsa") return tokens::tpm2::EkChoice::rsa;
  if (ek == "ecc") return tokens::tpm2::EkChoice::ecc;
  return tokens::tpm2::EkChoice::any;
}

// What an attested enrollment reports: the EK it proved, and for the benchmark
// (HWCA_NODE_STATS=1) the TPM commands this process sent.
struct Attested {
  std::string ek_sha256;
  uint64_t tpm_commands = 0;
};

// The attestation rounds for `key` (the kubelet key at `key_uri`): round 1 with the node's
// EK and a fresh AK; the CA's credential activated in the TPM; the request signed by the
// key, and the key certified by the AK with qualifying_data(nonce, request); round 2. The
// certificate the server issued (not yet checked).
Result<ossl::Ptr<X509>> attested_enrollment(const Options& o, const Setup& s,
                                            const std::string& node, const std::string& key_uri,
                                            EVP_PKEY* key, const std::string& ek,
                                            const ClientOptions& co, Attested* out) {
  auto e = endpoint(o, "");
  if (!e) return tl::unexpected(e.error());
  auto attestor = tokens::tpm2::NodeAttestor::open(o.tcti, ek_choice(ek));
  if (!attestor) return tl::unexpected(attestor.error());
  auto id = ek_identity((*attestor)->ek());
  if (!id) return tl::unexpected(id.error());
  out->ek_sha256 = id->spki_sha256;
  AttestClient client(*e, co);
  attest::ChallengeRequest round1;
  round1.node = node;
  round1.ek_certificate = (*attestor)->ek().certificate;
  round1.ek_public = (*attestor)->ek().public_area;
  round1.ak_public = (*attestor)->ak_public();
  auto challenge = client.challenge(round1);
  if (!challenge) return tl::unexpected(challenge.error());
  auto secret = (*attestor)->activate(challenge->credential_blob, challenge->encrypted_secret);
  if (!secret) return tl::unexpected(secret.error());
  auto csr = node_request(s.crypto->libctx(), key, node, {});
  if (!csr) return tl::unexpected(csr.error());
  attest::Bytes csr_der(csr->begin(), csr->end());
  auto evidence = (*attestor)->certify(key_uri, attest::qualifying_data(challenge->nonce, csr_der),
                                       o.pin_source);
  if (!evidence) return tl::unexpected(evidence.error());
  attest::EnrollRequest round2;
  round2.node = node;
  round2.nonce = challenge->nonce;
  round2.secret = std::move(*secret);
  round2.csr = std::move(csr_der);
  round2.key_public = std::move(evidence->key_public);
  round2.certify_info = std::move(evidence->attest);
  round2.certify_signature = std::move(evidence->signature);
  auto cert = client.enroll(round2);  // over mutual TLS, the handshake signs in the TPM too
  out->tpm_commands = (*attestor)->tpm_commands();
  return cert;
}

// HWCA_NODE_STATS=1: one line on standard error with the time an attested enrollment took
// (from the command's start) and the TPM commands it sent.
void report_stats(const char* what, std::chrono::steady_clock::time_point start,
                  const Attested& attested) {
  const char* env = std::getenv("HWCA_NODE_STATS");
  if (env == nullptr || std::string(env) != "1") return;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "hwca-node: stats: %s: %.3f s, %llu TPM commands\n", what, seconds,
               static_cast<unsigned long long>(attested.tpm_commands));
}

std::string attested_note(const Attested& attested) {
  return " (attested: EK sha256 " + attested.ek_sha256.substr(0, 16) + "...)";
}

int enroll(const Options& o, const EnrollArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  if (a.attest == !a.token_file.empty()) {
    return report(
        Error{ErrorKind::usage, "enroll needs exactly one of --bootstrap-token-file and --attest"});
  }
  if (!a.ek.empty() && !a.attest) {
    return report(Error{ErrorKind::usage, "--ek chooses the EK of --attest"});
  }
  if (auto ok = check_cert_out(a.cert_out); !ok) return report(ok.error());
  std::optional<NewKey> fresh;
  if (a.new_key) {
    auto k = new_key_of(o.key);
    if (!k) return report(k.error());
    fresh = std::move(*k);
  }
  std::optional<SecureString> token;
  if (!a.attest) {
    auto t = read_secret_file(a.token_file, "bootstrap token file");
    if (!t) return report(t.error());
    token = std::move(*t);
  }
  auto s = setup(o);
  if (!s) return report(s.error());
  bool created = false;
  auto key = load_or_create_key(*s->crypto, fresh ? fresh->staged_uri : o.key, s->keys, &created);
  // From here on, a failure leaves the old key: the new one is removed.
  auto drop = [&](const Error& e) {
    if (fresh) ::unlink(fresh->staged.c_str());
    return report(e);
  };
  if (!key) return drop(key.error());
  ClientOptions co;
  co.ca_file = o.ca_cert;
  co.timeout_s = o.timeout;
  Attested attested;
  Result<ossl::Ptr<X509>> cert = fail(ErrorKind::internal, "no enrollment");
  if (a.attest) {
    cert = attested_enrollment(o, *s, a.node, fresh ? fresh->staged_uri : o.key, key->get(), a.ek,
                               co, &attested);
  } else {
    auto csr = node_request(s->crypto->libctx(), key->get(), a.node, {});
    if (!csr) return drop(csr.error());
    auto e = endpoint(o, "");
    if (!e) return drop(e.error());
    co.basic_user = a.node;
    co.basic_password = &*token;
    cert = EstClient(*e, co).enroll(*csr, false);
  }
  if (!cert) return drop(cert.error());
  if (auto ok = check_issued(cert->get(), key->get(), a.node, o.ca_cert); !ok) {
    return drop(ok.error());
  }
  if (fresh) {
    if (auto ok = install_new_key(*fresh, a.cert_out, cert->get()); !ok) return report(ok.error());
  } else if (auto ok = save_certificate(a.cert_out, cert->get()); !ok) {
    return report(ok.error());
  }
  std::cout << "enrolled node '" << a.node << "': certificate "
            << ca::serial_hex(X509_get0_serialNumber(cert->get())) << " until "
            << rfc3339(ca::unix_time(X509_get0_notAfter(cert->get()))) << " in " << a.cert_out
            << (fresh     ? " (new key made in the TPM, replacing the old one: "
                : created ? " (key made in the TPM: "
                          : " (key ")
            << o.key << ")" << (a.attest ? attested_note(attested) : "") << "\n";
  if (a.attest) report_stats("enroll --attest", start, attested);
  return 0;
}

// renew --new-key: a new key made in the TPM (staged as enroll --new-key does), attested over
// mutual TLS with the current certificate and key, installed as enroll --new-key does.
int renew_new_key(const Options& o, const RenewArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  auto fresh = new_key_of(o.key);
  if (!fresh) return report(fresh.error());
  auto id = load_identity(o, a.cert);
  if (!id) return report(id.error());
  bool created = false;
  auto key = load_or_create_key(*id->setup.crypto, fresh->staged_uri, id->setup.keys, &created);
  auto drop = [&](const Error& e) {
    ::unlink(fresh->staged.c_str());
    return report(e);
  };
  if (!key) return drop(key.error());
  ClientOptions co;
  co.ca_file = o.ca_cert;
  co.client_cert = id->cert.get();
  co.client_key = id->key.get();
  co.timeout_s = o.timeout;
  Attested attested;
  auto cert = attested_enrollment(o, id->setup, id->node, fresh->staged_uri, key->get(), a.ek, co,
                                  &attested);
  if (!cert) return drop(cert.error());
  if (auto ok = check_issued(cert->get(), key->get(), id->node, o.ca_cert); !ok) {
    return drop(ok.error());
  }
  if (auto ok = install_new_key(*fresh, a.cert, cert->get()); !ok) return report(ok.error());
  std::cout << "renewed node '" << id->node << "': certificate "
            << ca::serial_hex(X509_get0_serialNumber(cert->get())) << " until "
            << rfc3339(ca::unix_time(X509_get0_notAfter(cert->get()))) << " in " << a.cert
            << " (new key made in the TPM, replacing the old one: " << o.key << ")"
            << attested_note(attested) << "\n";
  report_stats("renew --new-key", start, attested);
  return 0;
}

int renew(const Options& o, const RenewArgs& a) {
  if (!a.ek.empty() && !a.new_key) {
    return report(Error{ErrorKind::usage, "--ek chooses the EK of renew --new-key"});
  }
  if (a.new_key) return renew_new_key(o, a);
  auto current = read_certificate(a.cert);
  if (!current) return report(current.error());
  const std::time_t due = renewal_time(current->get());
  if (!a.force && std::time(nullptr) < due) {
    std::cout << "certificate " << a.cert << " is not due for renewal until " << rfc3339(due)
              << " (two thirds of its life); --force renews now\n";
    return 0;
  }
  auto id = load_identity(o, a.cert);
  if (!id) return report(id.error());
  auto csr = node_request(id->setup.crypto->libctx(), id->key.get(), id->node, {});
  if (!csr) return report(csr.error());
  auto cert = enroll_as(o, *id, "", *csr, true);
  if (!cert) return report(cert.error());
  if (auto ok = check_issued(cert->get(), id->key.get(), id->node, o.ca_cert); !ok) {
    return report(ok.error());
  }
  if (auto ok = save_certificate(a.cert, cert->get()); !ok) return report(ok.error());
  std::cout << "renewed node '" << id->node << "': certificate "
            << ca::serial_hex(X509_get0_serialNumber(cert->get())) << " until "
            << rfc3339(ca::unix_time(X509_get0_notAfter(cert->get()))) << " in " << a.cert << "\n";
  return 0;
}

int kubelet_credential(const Options& o, const CredentialArgs& a) {
  auto id = load_identity(o, a.cert);
  if (!id) return report(id.error());
  OSSL_LIB_CTX* libctx = id->setup.crypto->libctx();
  // The kubelet's key for this credential: made here, held in memory, handed over once.
  auto fresh = k8s::generate_leaf_key(libctx, tokens::KeyType::ec_p256);
  if (!fresh) return report(fresh.error());
  auto csr = node_request(libctx, fresh->get(), id->node, {});
  if (!csr) return report(csr.error());
  auto cert = enroll_as(o, *id, "kubelet-credential", *csr, false);
  if (!cert) return report(cert.error());
  if (auto ok = check_issued(cert->get(), fresh->get(), id->node, o.ca_cert); !ok) {
    return report(ok.error());
  }
  auto key_pem = k8s::private_key_pem(fresh->get());
  if (!key_pem) return report(key_pem.error());
  nlohmann::json out = {
      {"apiVersion", "client.authentication.k8s.io/v1"},
      {"kind", "ExecCredential"},
      {"status",
       {{"clientCertificateData", ca::cert_pem(cert->get())},
        {"clientKeyData", std::string(key_pem->view())},
        {"expirationTimestamp", rfc3339(ca::unix_time(X509_get0_notAfter(cert->get())))}}}};
  std::string text = out.dump();
  std::cout << text << "\n" << std::flush;
  OPENSSL_cleanse(text.data(), text.size());
  if (!std::cout) return report(Error{ErrorKind::io, "cannot write to standard output"});
  return 0;
}

int ek_show(const Options& o, const EkShowArgs& a) {
  auto ek = tokens::tpm2::read_ek(o.tcti, ek_choice(a.ek));
  if (!ek) return report(ek.error());
  auto id = ek_identity(*ek);
  if (!id) return report(id.error());
  if (!a.out.empty()) {
    if (auto ok = write_file_atomic(a.out, id->pem, 0644); !ok) return report(ok.error());
  }
  char nv[16];
  std::snprintf(nv, sizeof nv, "0x%08x", ek->nv_index);
  std::cout << "EK: " << tokens::tpm2::ek_kind_name(ek->kind) << "\n"
            << "certificate: "
            << (ek->nv_index != 0 ? std::string("NV ") + nv
                                  : std::string("none in NV (the EK's public key below)"))
            << "\n"
            << "SHA-256 (SubjectPublicKeyInfo): " << id->spki_sha256 << "\n"
            << id->pem << std::flush;
  if (!std::cout) return report(Error{ErrorKind::io, "cannot write to standard output"});
  return 0;
}

}  // namespace

void add_commands(CLI::App& app, Options& o, int& exit_code) {
  static EnrollArgs enroll_args;
  auto* e = app.add_subcommand(
      "enroll",
      "first enrollment: make the node key in the TPM (or reuse it), sign a request with it "
      "there, send it with a bootstrap token, check and write the certificate");
  common_options(e, o);
  e->add_option("--node-name", enroll_args.node, "this node's name (as the CA's token says)")
      ->required()
      ->type_name("NAME");
  auto* token = e->add_option("--bootstrap-token-file", enroll_args.token_file,
                              "file holding the bootstrap token (mode 0600), from 'hwca "
                              "bootstrap create'; or --attest")
                    ->type_name("FILE");
  e->add_flag("--attest", enroll_args.attest,
              "enroll by TPM attestation instead of a bootstrap token: prove with the TPM's "
              "endorsement key that the key lives in this node's registered TPM")
      ->excludes(token);
  e->add_option("--ek", enroll_args.ek,
                "with --attest: the EK to use, rsa or ecc (default: "
                "the first with a certificate, RSA first)")
      ->check(CLI::IsMember({"rsa", "ecc"}))
      ->type_name("rsa|ecc");
  e->add_option("--cert-out", enroll_args.cert_out,
                "where to write the certificate (atomically, mode 0644)")
      ->required()
      ->type_name("FILE");
  e->add_flag("--new-key", enroll_args.new_key,
              "make a new key in the TPM and enroll with it; it replaces the key file (--key "
              "tpm2:file=PATH) and the certificate only once the certificate is received "
              "(else both stay as they were). For a key revoked as compromised");
  e->callback([&] { exit_code = enroll(o, enroll_args); });

  static RenewArgs renew_args;
  auto* r = app.add_subcommand(
      "renew",
      "renew the node's certificate over mutual TLS with its TPM key, once two thirds of its "
      "life have passed (or now, with --force); the file is replaced atomically");
  common_options(r, o);
  r->add_option("--cert", renew_args.cert, "the node's current certificate, replaced when renewed")
      ->required()
      ->type_name("FILE");
  r->add_flag("--force", renew_args.force, "renew even if not due");
  r->add_flag("--new-key", renew_args.new_key,
              "renew now with a new key made in the TPM, proven by TPM attestation over mutual "
              "TLS; it replaces the key file (--key tpm2:file=PATH) and the certificate only "
              "once the certificate is received");
  r->add_option("--ek", renew_args.ek, "with --new-key: the EK to use, rsa or ecc")
      ->check(CLI::IsMember({"rsa", "ecc"}))
      ->type_name("rsa|ecc");
  r->callback([&] { exit_code = renew(o, renew_args); });

  static CredentialArgs cred_args;
  auto* c = app.add_subcommand(
      "kubelet-credential",
      "exec credential plugin for the kubelet (client.authentication.k8s.io/v1): get a "
      "short-lived client certificate for a fresh in-memory key, authenticated by the "
      "TPM-bound certificate, and print it as an ExecCredential");
  common_options(c, o);
  c->add_option("--cert", cred_args.cert, "the node's TPM-bound client certificate")
      ->required()
      ->type_name("FILE");
  c->callback([&] { exit_code = kubelet_credential(o, cred_args); });

  add_serving_command(app, o, exit_code);

  static EkShowArgs ek_args;
  auto* ek = app.add_subcommand("ek", "the TPM's endorsement key (EK), for registration");
  ek->require_subcommand(1);
  auto* show = ek->add_subcommand(
      "show",
      "print the EK certificate from the TPM's NV (or, without one, the EK's public key) as "
      "PEM, its kind, NV index and the SHA-256 of its SubjectPublicKeyInfo, as 'hwca node "
      "register' stores it");
  show->add_option("--tcti", o.tcti,
                   "the TPM (tpm2-tss TCTI); default $HWCA_TCTI, else device:/dev/tpmrm0")
      ->type_name("TCTI");
  show->add_option("--ek", ek_args.ek,
                   "which EK: rsa or ecc (default: the first with a "
                   "certificate, RSA first)")
      ->check(CLI::IsMember({"rsa", "ecc"}))
      ->type_name("rsa|ecc");
  show->add_option("--out", ek_args.out,
                   "also write the certificate (or public key) PEM to FILE, for 'hwca node "
                   "register --ek-cert/--ek-pub'")
      ->type_name("FILE");
  show->callback([&] { exit_code = ek_show(o, ek_args); });
}

}  // namespace hwca::node
