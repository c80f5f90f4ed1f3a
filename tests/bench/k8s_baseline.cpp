#include "bench/k8s_baseline.hpp"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <thread>

#include "bench/bench_key.hpp"
#include "bench/k8s_run.hpp"

namespace hwca::bench {
namespace {

using Clock = std::chrono::steady_clock;

ossl::Ptr<EVP_PKEY> new_key(tokens::KeyType type) {
  EVP_PKEY* key = tokens::is_rsa(type)
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA",
                                          static_cast<size_t>(tokens::key_bits(type)))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC",
                                          type == tokens::KeyType::ec_p384 ? "P-384" : "P-256");
  return ossl::Ptr<EVP_PKEY>(key);
}

bool add_ext(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  bool ok = ext != nullptr && X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// The certificate of one planned credential, or null.
ossl::Ptr<X509> make_cert(const BaselineCa& ca, const k8s::PlannedCert& p, EVP_PKEY* key,
                          bool rsa) {
  ossl::Ptr<X509> x(X509_new());
  unsigned char serial[16];
  if (!x || RAND_bytes(serial, sizeof serial) != 1) return nullptr;
  serial[0] &= 0x7f;
  ossl::Ptr<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* name = X509_get_subject_name(x.get());
  auto add_name = [&](const char* field, const std::string& v) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(v.c_str()), -1, -1,
                                      0) == 1;
  };
  bool ok = bn && X509_set_version(x.get(), 2) == 1 &&
            BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) != nullptr &&
            X509_set_issuer_name(x.get(), X509_get_subject_name(ca.cert.get())) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x.get()), -300) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 86400) != nullptr &&
            X509_set_pubkey(x.get(), key) == 1;
  for (const auto& g : p.groups) ok = ok && add_name("O", g);
  ok = ok && add_name("CN", p.common_name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), x.get(), nullptr, nullptr, 0);
  const char* eku = p.profile == "server"   ? "serverAuth"
                    : p.profile == "client" ? "clientAuth"
                                            : "serverAuth,clientAuth";
  ok = ok && add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
       add_ext(x.get(), &ctx, NID_key_usage,
               rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") &&
       add_ext(x.get(), &ctx, NID_ext_key_usage, eku) &&
       add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash") &&
       add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (ok && !p.sans.empty()) {
    std::string sans;
    for (const auto& s : p.sans) sans += (sans.empty() ? "" : ",") + s;
    ok = add_ext(x.get(), &ctx, NID_subject_alt_name, sans);
  }
  if (!ok || X509_sign(x.get(), ca.key.get(), EVP_sha256()) <= 0) return nullptr;
  return x;
}

// Runs work(i) for i in [0, n) on `threads` threads (the caller's among them); false if any
// returned false.
bool parallel(size_t n, unsigned threads, const std::function<bool(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  auto loop = [&] {
    for (size_t i; (i = next++) < n;) {
      if (!work(i)) ok = false;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < n; ++t) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
  return ok;
}

std::string file_name(const std::string& dir, const k8s::PlannedCert& p) {
  return dir + "/" + p.node + "_" + p.name + ".pem";
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

BaselineCa make_baseline_ca() {
  BaselineCa ca;
  ca.key = new_key(tokens::KeyType::ec_p256);
  ca.cert.reset(X509_new());
  if (!ca.key || !ca.cert) throw std::runtime_error("baseline CA: " + openssl_errors());
  X509* x = ca.cert.get();
  X509_NAME* name = X509_get_subject_name(x);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  bool ok = X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>("baseline-ca"), -1,
                                       -1, 0) == 1 &&
            X509_set_issuer_name(x, name) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x), -300) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400) != nullptr &&
            X509_set_pubkey(x, ca.key.get()) == 1 &&
            add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
            add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
            add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
            X509_sign(x, ca.key.get(), EVP_sha256()) > 0;
  if (!ok) throw std::runtime_error("baseline CA: " + openssl_errors());
  return ca;
}

BaselineRun run_baseline(const BaselineCa& ca, const std::vector<k8s::PlannedCert>& plan,
                         tokens::KeyType leaf, unsigned threads, const std::string& dir) {
  BaselineRun run;
  const size_t n = plan.size();
  const bool rsa = tokens::is_rsa(leaf);
  std::vector<ossl::Ptr<EVP_PKEY>> keys(n);
  std::vector<ossl::Ptr<X509>> certs(n);
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();

  auto t = Clock::now();
  bool ok = parallel(n, threads, [&](size_t i) { return (keys[i] = new_key(leaf)) != nullptr; });
  run.keys = since(t);
  if (!ok) run.error = "generating a key: " + openssl_errors();

  t = Clock::now();
  ok = ok && parallel(n, threads, [&](size_t i) {
         return (certs[i] = make_cert(ca, plan[i], keys[i].get(), rsa)) != nullptr;
       });
  run.signing = since(t);
  if (!ok && run.error.empty()) run.error = "making a certificate: " + openssl_errors();

  t = Clock::now();
  for (size_t i = 0; ok && i < n; ++i) {
    ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
    char* data = nullptr;
    ok = bio && PEM_write_bio_X509(bio.get(), certs[i].get()) == 1 &&
         PEM_write_bio_PrivateKey(bio.get(), keys[i].get(), nullptr, nullptr, 0, nullptr,
                                  nullptr) == 1;
    long len = ok ? BIO_get_mem_data(bio.get(), &data) : 0;
    const std::string path = file_name(dir, plan[i]);
    int fd = ok ? ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    ok = fd >= 0 && ::write(fd, data, static_cast<size_t>(len)) == len;
    if (fd >= 0 && ::close(fd) != 0) ok = false;
    if (!ok) run.error = "writing " + path;
  }
  run.writing = since(t);
  run.seconds = since(t0);
  run.cpu_seconds = process_cpu_seconds() - cpu0;
  return run;
}

std::vector<std::string> check_baseline(const BaselineCa& ca,
                                        const std::vector<k8s::PlannedCert>& plan,
                                        const std::string& dir) {
  std::vector<std::string> failures;
  size_t files = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++files;
  }
  if (ec || files != plan.size()) {
    failures.push_back(dir + " holds " + std::to_string(files) + " files, not " +
                       std::to_string(plan.size()));
  }
  for (const k8s::PlannedCert* p : {&plan.front(), &plan.back()}) {
    const std::string path = file_name(dir, *p);
    ossl::Ptr<BIO> bio(BIO_new_file(path.c_str(), "r"));
    ossl::Ptr<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    char cn[256] = {0};
    if (!cert || X509_verify(cert.get(), X509_get0_pubkey(ca.cert.get())) != 1 ||
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn,
                                  sizeof cn) < 0 ||
        p->common_name != cn) {
      failures.push_back(path + ": no certificate of the CA for CN=" + p->common_name);
    }
    ERR_clear_error();
  }
  return failures;
}

}  // namespace hwca::bench
