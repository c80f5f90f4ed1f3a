#include "bench/issue_setup.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "ca/ca_init.hpp"

namespace hwca::bench {
namespace {

// The one-line reason for a failed OpenSSL call while making requests.
[[noreturn]] void openssl_failed(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_errors());
}

ossl::Ptr<EVP_PKEY> new_p256_key() {
  ossl::Ptr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, ossl::kDefaultProps, "EC", "P-256"));
  if (!key) openssl_failed("generating a P-256 key");
  return key;
}

Csr make_csr(int i) {
  ossl::Ptr<EVP_PKEY> key = new_p256_key();
  ossl::Ptr<X509_REQ> req(X509_REQ_new());
  if (!req) openssl_failed("X509_REQ_new");
  std::string cn = "client-" + std::to_string(i) + ".bench.example";
  std::string sans = "DNS:" + cn + ",DNS:alt-" + std::to_string(i) + ".bench.example";
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    openssl_failed("building a request");
  }
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, sans.c_str());
  bool ok = exts != nullptr && san != nullptr && sk_X509_EXTENSION_push(exts, san) > 0;
  if (!ok) X509_EXTENSION_free(san);
  ok = ok && X509_REQ_add_extensions(req.get(), exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ok || X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    openssl_failed("signing a request");
  }
  Csr out;
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) openssl_failed("PEM of a request");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  out.pem.assign(data, static_cast<size_t>(len));
  out.spki = spki_der(key.get());
  return out;
}

}  // namespace

std::string describe_filesystem(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  std::string where = real != nullptr ? real : path;
  std::free(real);
  std::ifstream mounts("/proc/self/mounts");
  std::string line, best_dev, best_dir, best_type;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string dev, dir, type;
    if (!(fields >> dev >> dir >> type)) continue;
    bool covers = dir == "/" || where == dir || where.rfind(dir + "/", 0) == 0;
    if (covers && dir.size() >= best_dir.size()) {  // the last, longest mount point wins
      best_dev = dev;
      best_dir = dir;
      best_type = type;
    }
  }
  if (best_type.empty()) return "an unknown file system";
  return best_type + " (" + best_dev + " on " + best_dir + ")";
}

std::vector<Csr> make_csrs(int n) {
  std::vector<Csr> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(make_csr(i));
  return out;
}

ca::SignRequest sign_request(const std::vector<Csr>& csrs, size_t i) {
  ca::SignRequest r;
  r.csr = csrs[i].pem;
  r.source = "request " + std::to_string(i);
  r.profile = "client";
  r.requester = "bench";
  return r;
}

BenchHome open_bench_home(const std::string& dir) {
  BenchHome out;
  auto crypto = ca::CryptoContext::create();
  if (!crypto) throw std::runtime_error("CryptoContext: " + crypto.error().message);
  out.crypto = std::move(*crypto);
  auto home = ca::Home::open(dir, true);
  if (!home) throw std::runtime_error("CA home: " + home.error().message);
  out.home = std::move(*home);
  auto store = ca::SqliteIssuanceStore::open(out.home->path(out.home->config().database));
  if (!store) throw std::runtime_error("issuance database: " + store.error().message);
  out.store = std::move(*store);
  return out;
}

std::unique_ptr<BenchCa> make_ca(const test::SoftHsmToken& token, const std::string& home_dir) {
  auto out = std::make_unique<BenchCa>();
  out->key = generate_key(token, tokens::KeyType::ec_p256, "bench-ca");
  out->key_options = key_load_options(token);
  static_cast<BenchHome&>(*out) = open_bench_home(home_dir);

  ca::InitCaRequest req;
  req.name = BenchCa::kName;
  req.key_uri = out->key.uri;
  req.subject = "/CN=hwca bench root/O=hwca";
  req.key_options = out->key_options;
  req.requester = "bench";
  req.store = out->store.get();
  if (auto made = ca::init_ca(*out->home, *out->crypto, req); !made) {
    throw std::runtime_error("init_ca: " + made.error().message);
  }
  auto issuer =
      ca::Issuer::open(*out->home, *out->crypto, *out->store, BenchCa::kName, out->key_options);
  if (!issuer) throw std::runtime_error("Issuer::open: " + issuer.error().message);
  out->issuer = std::move(*issuer);
  return out;
}

}  // namespace hwca::bench
