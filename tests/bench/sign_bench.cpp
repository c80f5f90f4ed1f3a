// Signing throughput of hwca's OpenSSL provider against a bare PKCS#11 client, both on the
// same SoftHSM2 key in one process, so that the ratio survives a noisy machine.
//
//   raw       each thread: its own session (RawPkcs11), C_SignInit + C_Sign over a fixed
//             SHA-256 digest (CKM_ECDSA; CKM_RSA_PKCS over the DER DigestInfo).
//   provider  one EVP_PKEY from CryptoContext::load_private_key shared by all threads; each
//             thread: EVP_DigestSignInit_ex("SHA256") + EVP_DigestSign over a fixed 256-byte
//             message (the path X509_sign takes, hashing included).
//
// Runs are interleaved (raw, provider, raw, provider, ...) and each lasts a fixed wall time
// after a warm-up; the table gives the median of each path and provider/raw, and beside it
// the CPU time one signature costs on the signing threads (a second reading of the ratio,
// less disturbed by other processes). A sample of every run's signatures is verified
// afterwards with a public key read from the token by the raw client and built in OpenSSL's
// default provider. Exit status: 0; 1 if a signature failed or did not verify; 2 for a
// usage or setup error. The ratio never fails the run. See docs/performance.md.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ca/crypto_context.hpp"
#include "common/ossl.hpp"
#include "support/raw_pkcs11.hpp"
#include "support/softhsm_token.hpp"
#include "tokens/keystore.hpp"
#include "tokens/registry.hpp"

namespace {

namespace ossl = hwca::ossl;
namespace tokens = hwca::tokens;
using hwca::test::RawPkcs11;
using hwca::test::SoftHsmToken;
using Clock = std::chrono::steady_clock;

constexpr size_t kMessageSize = 256;
constexpr size_t kSamplesPerThread = 32;  // signatures kept per thread and run for checking
constexpr size_t kSampleEvery = 257;      // ... the first two, then every 257th

// --- options -----------------------------------------------------------------------------

enum class Path { raw, provider };
const char* path_name(Path p) { return p == Path::raw ? "raw" : "provider"; }

struct Options {
  double seconds = 3.0;
  double warmup = 0.5;
  int rounds = 2;
  bool markdown = false;
  bool pin = true;  // see --no-pin
  bool help = false;
  std::vector<tokens::KeyType> types{tokens::KeyType::ec_p256, tokens::KeyType::rsa_3072};
  std::vector<int> threads{1, 2};
  std::vector<Path> paths{Path::raw, Path::provider};
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: hwca_sign_bench [--seconds S] [--warmup S] [--rounds N] [--markdown]\n"
               "                       [--types ec-p256,rsa-3072] [--threads 1,2]\n"
               "                       [--paths raw,provider] [--no-pin]\n"
               "  --seconds S   measured wall time of each run (default 3)\n"
               "  --warmup S    signing before each measured run, not counted (default 0.5)\n"
               "  --rounds N    raw/provider run pairs per key type and thread count (default 2)\n"
               "  --markdown    print the table as Markdown\n"
               "  --types       key types to generate and measure\n"
               "  --threads     thread counts\n"
               "  --paths       which paths to run (one path alone is for profiling)\n"
               "  --no-pin      let the scheduler place the signing threads; by default thread\n"
               "                i of every run is pinned to the i-th allowed CPU, so that both\n"
               "                paths run on the same CPUs (on a VM whose vCPUs differ in\n"
               "                speed, unpinned single-thread runs compare two different CPUs)\n");
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Seconds: a number > 0, or >= 0 when zero is allowed.
double parse_seconds(const std::string& flag, const std::string& value, bool zero_ok) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0' || !(v > 0 || (zero_ok && v == 0)) || v > 3600) {
    throw std::invalid_argument(flag + " needs a number of seconds" +
                                (zero_ok ? " (0 or more)" : " above 0") + ", not '" + value + "'");
  }
  return v;
}

int parse_count(const std::string& flag, const std::string& value, long max) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  if (end == value.c_str() || *end != '\0' || v < 1 || v > max) {
    throw std::invalid_argument(flag + " needs a whole number from 1 to " + std::to_string(max) +
                                ", not '" + value + "'");
  }
  return static_cast<int>(v);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--seconds") {
      o.seconds = parse_seconds(arg, value(), false);
    } else if (arg == "--warmup") {
      o.warmup = parse_seconds(arg, value(), true);
    } else if (arg == "--rounds") {
      o.rounds = parse_count(arg, value(), 1000);
    } else if (arg == "--markdown") {
      o.markdown = true;
    } else if (arg == "--no-pin") {
      o.pin = false;
    } else if (arg == "--types") {
      o.types.clear();
      for (const auto& name : split(value())) {
        auto t = tokens::parse_key_type(name);
        if (!t) throw std::invalid_argument("--types: " + t.error().message);
        o.types.push_back(*t);
      }
    } else if (arg == "--threads") {
      o.threads.clear();
      for (const auto& n : split(value())) {
        o.threads.push_back(parse_count(arg, n, 64));
      }
    } else if (arg == "--paths") {
      o.paths.clear();
      for (const auto& p : split(value())) {
        if (p == "raw")
          o.paths.push_back(Path::raw);
        else if (p == "provider")
          o.paths.push_back(Path::provider);
        else
          throw std::invalid_argument("--paths: raw and/or provider, not '" + p + "'");
      }
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else {
      throw std::invalid_argument("unknown argument '" + arg + "'");
    }
  }
  if (o.types.empty() || o.threads.empty() || o.paths.empty()) {
    throw std::invalid_argument("--types, --threads and --paths must not be empty");
  }
  return o;
}

std::string openssl_errors() {
  std::string s = ossl::take_errors();
  return s.empty() ? "no detail from OpenSSL" : s;
}

// --- the key under test --------------------------------------------------------------------

struct BenchKey {
  tokens::KeyType type;
  std::string label, uri;
  bool rsa = false;
  ossl::Ptr<EVP_PKEY> provider_key;  // signs in the token through the hwca provider
  ossl::Ptr<EVP_PKEY> public_key;    // default provider, read from the token by RawPkcs11
};

const char* group_name(tokens::KeyType t) {
  switch (t) {
    case tokens::KeyType::ec_p256:
      return "prime256v1";
    case tokens::KeyType::ec_p384:
      return "secp384r1";
    default:
      return nullptr;
  }
}

// The public key object's attributes, read by the bare client, as a default-provider key.
ossl::Ptr<EVP_PKEY> read_public_key(RawPkcs11& raw, CK_SESSION_HANDLE s, const BenchKey& key) {
  CK_OBJECT_HANDLE obj = raw.find(s, CKO_PUBLIC_KEY, key.label);
  auto attr = [&](CK_ATTRIBUTE_TYPE type, const char* name) {
    std::vector<unsigned char> v;
    CK_RV rv = raw.get_attribute(s, obj, type, &v);
    if (rv != CKR_OK) {
      throw std::runtime_error(std::string("reading ") + name + ": " + hwca::test::ck_rv_text(rv));
    }
    return v;
  };
  ossl::Ptr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, key.rsa ? "RSA" : "EC", ossl::kDefaultProps));
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> owned_bld(OSSL_PARAM_BLD_new(),
                                                                            OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD* bld = owned_bld.get();
  ossl::Ptr<BIGNUM> n, e;
  std::vector<unsigned char> point;
  bool ok = ctx && bld != nullptr;
  if (ok && key.rsa) {
    auto mod = attr(CKA_MODULUS, "CKA_MODULUS");
    auto exp = attr(CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT");
    n.reset(BN_bin2bn(mod.data(), static_cast<int>(mod.size()), nullptr));
    e.reset(BN_bin2bn(exp.data(), static_cast<int>(exp.size()), nullptr));
    ok = n && e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) == 1;
  } else if (ok) {
    auto der = attr(CKA_EC_POINT, "CKA_EC_POINT");  // DER OCTET STRING holding the point
    const unsigned char* p = der.data();
    ASN1_OCTET_STRING* os = d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(der.size()));
    if (os != nullptr && p == der.data() + der.size()) {
      point.assign(ASN1_STRING_get0_data(os), ASN1_STRING_get0_data(os) + ASN1_STRING_length(os));
    } else {
      point = der;  // a token that returns the bare point
    }
    ASN1_OCTET_STRING_free(os);
    ERR_clear_error();
    ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group_name(key.type),
                                         0) == 1 &&
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size()) == 1;
  }
  ossl::Ptr<OSSL_PARAM> params(ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr);
  EVP_PKEY* pkey = nullptr;
  ok = params && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
       EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) == 1;
  if (!ok) {
    throw std::runtime_error("cannot build the public key of " + key.label + ": " +
                             openssl_errors());
  }
  return ossl::Ptr<EVP_PKEY>(pkey);
}

std::vector<unsigned char> spki_der(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  std::vector<unsigned char> out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}

// --- what is signed -------------------------------------------------------------------------

struct Input {
  std::vector<unsigned char> message;      // provider path: hashed on the host
  std::vector<unsigned char> digest;       // SHA-256(message)
  std::vector<unsigned char> digest_info;  // DER DigestInfo(SHA-256, digest), raw RSA input
};

Input make_input() {
  Input in;
  in.message.resize(kMessageSize);
  for (size_t i = 0; i < kMessageSize; ++i) in.message[i] = static_cast<unsigned char>(i * 7 + 3);
  in.digest.resize(32);
  unsigned int len = 0;
  if (EVP_Digest(in.message.data(), in.message.size(), in.digest.data(), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != 32) {
    throw std::runtime_error("SHA-256 failed: " + openssl_errors());
  }
  // RFC 8017 9.2 note 1: the DER prefix of a SHA-256 DigestInfo.
  static const unsigned char kPrefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};
  in.digest_info.assign(kPrefix, kPrefix + sizeof kPrefix);
  in.digest_info.insert(in.digest_info.end(), in.digest.begin(), in.digest.end());
  return in;
}

// --- one run ----------------------------------------------------------------------------------

struct Control {
  std::atomic<int> phase{0};  // 0 warm-up, 1 measuring, 2 stop
  std::atomic<int> ready{0};
};

struct ThreadResult {
  uint64_t measured = 0;  // signatures completed while phase == 1
  uint64_t total = 0;
  // CPU time of this thread (its own code, OpenSSL's and SoftHSM's: all run on it) over the
  // signatures it started after it saw the measured window open, up to when it saw it close.
  double cpu_seconds = 0;
  uint64_t cpu_signatures = 0;
  int cpu = -1;  // the CPU the thread was on at the end of the run
  std::vector<std::vector<unsigned char>> samples;
  std::string error;  // set when setup or a signature failed
};

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) out.push_back(c);
    }
  }
  return out;
}

void pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Loops `sign` (returns the signature length, 0 on failure, and sets *error) until stopped.
template <typename Sign>
void sign_loop(Control& ctl, ThreadResult& r, size_t max_sig, Sign&& sign) {
  std::vector<unsigned char> sig(max_sig);
  bool timing = false;
  double cpu_start = 0;
  ctl.ready.fetch_add(1);
  for (;;) {
    int phase = ctl.phase.load(std::memory_order_acquire);
    if (phase == 2) break;
    if (phase == 1 && !timing) {
      timing = true;
      cpu_start = thread_cpu_seconds();
    }
    size_t len = sign(sig.data(), sig.size(), &r.error);
    if (len == 0) return;
    if (timing) ++r.cpu_signatures;
    if (ctl.phase.load(std::memory_order_relaxed) == 1) ++r.measured;
    if ((r.total < 2 || r.total % kSampleEvery == 0) && r.samples.size() < kSamplesPerThread) {
      r.samples.emplace_back(sig.data(), sig.data() + len);
    }
    ++r.total;
  }
  if (timing) r.cpu_seconds = thread_cpu_seconds() - cpu_start;
  r.cpu = sched_getcpu();
}

void raw_thread(RawPkcs11& raw, CK_SLOT_ID slot, const BenchKey& key, const Input& in, Control& ctl,
                ThreadResult& r) {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  try {
    s = raw.open_session(slot);
    obj = raw.find(s, CKO_PRIVATE_KEY, key.label);
  } catch (const std::exception& e) {
    r.error = std::string("raw session setup: ") + e.what();
    if (s != CK_INVALID_HANDLE) raw.close_session(s);
    ctl.ready.fetch_add(1);
    return;
  }
  CK_FUNCTION_LIST* fn = raw.fn();
  CK_MECHANISM mech{key.rsa ? CKM_RSA_PKCS : CKM_ECDSA, nullptr, 0};
  const std::vector<unsigned char>& data = key.rsa ? in.digest_info : in.digest;
  auto sign = [&](unsigned char* sig, size_t size, std::string* error) -> size_t {
    CK_RV rv = fn->C_SignInit(s, &mech, obj);
    if (rv != CKR_OK) {
      *error = "C_SignInit: " + hwca::test::ck_rv_text(rv);
      return 0;
    }
    CK_ULONG len = size;
    rv = fn->C_Sign(s, const_cast<unsigned char*>(data.data()), data.size(), sig, &len);
    if (rv != CKR_OK) {
      *error = "C_Sign: " + hwca::test::ck_rv_text(rv);
      return 0;
    }
    return len;
  };
  sign_loop(ctl, r, static_cast<size_t>(EVP_PKEY_get_size(key.public_key.get())), sign);
  raw.close_session(s);
}

void provider_thread(OSSL_LIB_CTX* libctx, const BenchKey& key, const Input& in, Control& ctl,
                     ThreadResult& r) {
  ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  if (!md) {
    r.error = "EVP_MD_CTX_new failed";
    ctl.ready.fetch_add(1);
    return;
  }
  EVP_PKEY* pkey = key.provider_key.get();
  auto sign = [&](unsigned char* sig, size_t size, std::string* error) -> size_t {
    EVP_MD_CTX_reset(md.get());
    if (EVP_DigestSignInit_ex(md.get(), nullptr, "SHA256", libctx, nullptr, pkey, nullptr) != 1) {
      *error = "EVP_DigestSignInit_ex: " + openssl_errors();
      return 0;
    }
    size_t len = size;
    if (EVP_DigestSign(md.get(), sig, &len, in.message.data(), in.message.size()) != 1) {
      *error = "EVP_DigestSign: " + openssl_errors();
      return 0;
    }
    return len;
  };
  sign_loop(ctl, r, static_cast<size_t>(EVP_PKEY_get_size(pkey)), sign);
}

// --- verification -----------------------------------------------------------------------------

// A raw device signature (r||s for ECDSA, the RSA block) over the digest.
bool verify_raw(const BenchKey& key, const Input& in, const std::vector<unsigned char>& sig) {
  std::vector<unsigned char> der;
  if (!key.rsa) {
    if (sig.empty() || sig.size() % 2 != 0) return false;
    size_t half = sig.size() / 2;
    ossl::Ptr<ECDSA_SIG> es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(sig.data() + half, static_cast<int>(half), nullptr);
    if (!es || r == nullptr || s == nullptr || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* p = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &p);
    if (len <= 0) return false;
    der.assign(p, p + len);
    OPENSSL_free(p);
  }
  const std::vector<unsigned char>& s = key.rsa ? sig : der;
  ossl::Ptr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.public_key.get(), ossl::kDefaultProps));
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
            (!key.rsa || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1) &&
            EVP_PKEY_verify(ctx.get(), s.data(), s.size(), in.digest.data(), in.digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

// A provider signature (DER ECDSA-Sig-Value or the RSA block) over the message.
bool verify_provider(const BenchKey& key, const Input& in, const std::vector<unsigned char>& sig) {
  ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  bool ok =
      md &&
      EVP_DigestVerifyInit_ex(md.get(), nullptr, "SHA256", nullptr, ossl::kDefaultProps,
                              key.public_key.get(), nullptr) == 1 &&
      EVP_DigestVerify(md.get(), sig.data(), sig.size(), in.message.data(), in.message.size()) == 1;
  ERR_clear_error();
  return ok;
}

// --- the benchmark ----------------------------------------------------------------------------

struct RunResult {
  double rate = 0;          // signatures per second
  uint64_t signatures = 0;  // completed in the measured window
  uint64_t made = 0;        // including the warm-up and the last one in flight
  double seconds = 0;
  double cpu_us = 0;    // CPU time per signature on the signing threads, microseconds
  double cpu_busy = 0;  // CPU seconds of the signing threads per wall second (cores)
  std::string cpus;     // where the signing threads ended the run ("1", "0,1")
  size_t verified = 0;
  std::vector<std::string> failures;
};

struct Bench {
  const Options& opt;
  const Input& in;
  RawPkcs11& raw;
  CK_SLOT_ID slot;
  OSSL_LIB_CTX* libctx;
  std::vector<int> cpus = allowed_cpus();

  RunResult run(const BenchKey& key, int nthreads, Path path) {
    Control ctl;
    std::vector<ThreadResult> results(static_cast<size_t>(nthreads));
    std::vector<std::thread> threads;
    for (int i = 0; i < nthreads; ++i) {
      ThreadResult& r = results[static_cast<size_t>(i)];
      int cpu = opt.pin && !cpus.empty() ? cpus[static_cast<size_t>(i) % cpus.size()] : -1;
      threads.emplace_back([&, &r = r, cpu] {
        if (cpu >= 0) pin_this_thread(cpu);
        if (path == Path::raw) {
          raw_thread(raw, slot, key, in, ctl, r);
        } else {
          provider_thread(libctx, key, in, ctl, r);
        }
      });
    }
    while (ctl.ready.load() < nthreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.warmup));
    Clock::time_point t1 = Clock::now();
    ctl.phase.store(1, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
    Clock::time_point t2 = Clock::now();
    ctl.phase.store(2, std::memory_order_release);
    for (auto& t : threads) t.join();

    RunResult out;
    out.seconds = std::chrono::duration<double>(t2 - t1).count();
    double cpu = 0;
    uint64_t cpu_signatures = 0;
    std::vector<const std::vector<unsigned char>*> seen;
    size_t repeated = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      const ThreadResult& r = results[i];
      if (!r.error.empty()) {
        out.failures.push_back(std::string(path_name(path)) + " thread " + std::to_string(i) +
                               ": " + r.error);
      }
      out.signatures += r.measured;
      out.made += r.total;
      out.cpus += (i == 0 ? "" : ",") + std::to_string(r.cpu);
      cpu += r.cpu_seconds;
      cpu_signatures += r.cpu_signatures;
      for (const auto& sig : r.samples) {
        bool ok = path == Path::raw ? verify_raw(key, in, sig) : verify_provider(key, in, sig);
        if (ok) {
          ++out.verified;
        } else {
          out.failures.push_back(std::string(path_name(path)) + " thread " + std::to_string(i) +
                                 ": a " + std::to_string(sig.size()) +
                                 "-byte signature does not verify");
        }
        for (const auto* other : seen) {
          if (other->size() == sig.size() &&
              std::memcmp(other->data(), sig.data(), sig.size()) == 0) {
            ++repeated;
            break;
          }
        }
        seen.push_back(&sig);
      }
    }
    // ECDSA with SoftHSM uses a fresh random nonce: equal samples would mean reused output.
    if (!key.rsa && repeated != 0) {
      out.failures.push_back(std::string(path_name(path)) + ": " + std::to_string(repeated) +
                             " repeated ECDSA signatures in the sample");
    }
    if (seen.empty() && out.failures.empty()) {
      out.failures.push_back(std::string(path_name(path)) + ": no signature was made");
    }
    out.rate = out.seconds > 0 ? static_cast<double>(out.signatures) / out.seconds : 0;
    out.cpu_us = cpu_signatures > 0 ? cpu * 1e6 / static_cast<double>(cpu_signatures) : 0;
    out.cpu_busy = out.seconds > 0 ? cpu / out.seconds : 0;
    return out;
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Row {
  std::string key;
  int threads = 0;
  std::vector<double> raw, provider;          // signatures per second, one per run
  std::vector<double> raw_cpu, provider_cpu;  // CPU microseconds per signature, one per run
};

std::string fmt(int decimals, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Columns: the medians of each path and provider/raw of those; "paired", the median of
// provider/raw taken round by round (each provider run against the raw run just before it:
// robust when the machine changes speed during the benchmark); then the CPU time one
// signature costs on the signing threads and raw/provider of that, a reading of the ratio
// that other processes disturb less than wall time.
void print_table(const std::vector<Row>& rows, bool markdown) {
  auto med = [](const std::vector<double>& v, int decimals) {
    return v.empty() ? std::string("-") : fmt(decimals, median(v));
  };
  auto ratio = [](const std::vector<double>& num, const std::vector<double>& den) {
    if (num.empty() || den.empty() || median(den) <= 0) return std::string("-");
    return fmt(2, median(num) / median(den));
  };
  auto paired = [](const std::vector<double>& num, const std::vector<double>& den) {
    std::vector<double> q;
    for (size_t i = 0; i < num.size() && i < den.size(); ++i) {
      if (den[i] > 0) q.push_back(num[i] / den[i]);
    }
    return q.empty() ? std::string("-") : fmt(2, median(q));
  };
  std::vector<std::vector<std::string>> table{{"key", "threads", "raw sig/s", "provider sig/s",
                                               "ratio", "paired", "raw cpu us/sig",
                                               "provider cpu us/sig", "cpu ratio"}};
  for (const auto& r : rows) {
    table.push_back({r.key, std::to_string(r.threads), med(r.raw, 0), med(r.provider, 0),
                     ratio(r.provider, r.raw), paired(r.provider, r.raw), med(r.raw_cpu, 1),
                     med(r.provider_cpu, 1), ratio(r.raw_cpu, r.provider_cpu)});
  }
  const size_t ncol = table.front().size();
  if (markdown) {
    for (size_t row = 0; row < table.size(); ++row) {
      std::printf("|");
      for (const auto& cell : table[row]) std::printf(" %s |", cell.c_str());
      std::printf("\n");
      if (row == 0) {
        std::printf("|---|");
        for (size_t c = 1; c < ncol; ++c) std::printf("---:|");
        std::printf("\n");
      }
    }
  } else {
    std::vector<size_t> width(ncol, 0);
    for (const auto& row : table) {
      for (size_t c = 0; c < ncol; ++c) width[c] = std::max(width[c], row[c].size());
    }
    for (const auto& row : table) {
      std::string line;
      for (size_t c = 0; c < ncol; ++c) {
        line += row[c];
        if (c + 1 < ncol) line += std::string(width[c] - row[c].size() + 2, ' ');
      }
      std::printf("%s\n", line.c_str());
    }
  }
  std::fflush(stdout);
}

int run_bench(const Options& opt, SoftHsmToken& token) {
  auto ctx = hwca::ca::CryptoContext::create();
  if (!ctx) throw std::runtime_error("CryptoContext: " + ctx.error().message);
  const Input in = make_input();

  // Keys: generated in the token through hwca's key store, loaded through the provider.
  std::vector<BenchKey> keys;
  for (tokens::KeyType type : opt.types) {
    BenchKey k;
    k.type = type;
    k.rsa = tokens::is_rsa(type);
    k.label = std::string("bench-") + tokens::key_type_name(type);
    k.uri = token.key_uri(k.label);
    tokens::OpenOptions oo;
    oo.module = token.module();
    oo.pin_source = token.pin_source();
    auto store = tokens::open_store(k.uri, oo);
    if (!store) throw std::runtime_error("open_store: " + store.error().message);
    std::fprintf(stderr, "generating %s in the token...\n", tokens::key_type_name(type));
    auto info = (*store)->create_key(tokens::CreateKeyRequest{k.uri, type});
    if (!info) throw std::runtime_error("create_key: " + info.error().message);
    auto pkey = (*ctx)->load_private_key(
        k.uri, hwca::ca::KeyLoadOptions{token.pin_source(), token.module(), {}});
    if (!pkey) throw std::runtime_error("load_private_key: " + pkey.error().message);
    k.provider_key = std::move(*pkey);
    keys.push_back(std::move(k));
  }

  // The baseline client: its own handle on the module, logged in once (the login is per
  // process, so hwca's own login usually makes this CKR_USER_ALREADY_LOGGED_IN).
  RawPkcs11 raw(token.module());
  CK_SLOT_ID slot = raw.slot_by_label(token.label());
  CK_SESSION_HANDLE main_session = raw.open_session(slot);
  raw.login(main_session, token.pin());

  int status = 0;
  for (auto& k : keys) {
    k.public_key = read_public_key(raw, main_session, k);
    auto ours = spki_der(k.public_key.get());
    auto theirs = spki_der(k.provider_key.get());
    ERR_clear_error();
    if (theirs.empty()) {
      std::fprintf(stderr, "note: cannot encode the provider's public key of %s to compare\n",
                   k.label.c_str());
    } else if (ours != theirs) {
      std::fprintf(stderr, "FAIL: the provider's public key of %s differs from the token's\n",
                   k.label.c_str());
      status = 1;
    }
    // The provider path must sign in the token, not in the default provider.
    ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
    if (EVP_DigestSignInit_ex(md.get(), nullptr, "SHA256", (*ctx)->libctx(), nullptr,
                              k.provider_key.get(), nullptr) != 1) {
      throw std::runtime_error("EVP_DigestSignInit_ex: " + openssl_errors());
    }
    const OSSL_PROVIDER* prov = EVP_PKEY_CTX_get0_provider(EVP_MD_CTX_get_pkey_ctx(md.get()));
    const char* name = prov != nullptr ? OSSL_PROVIDER_get0_name(prov) : "(none)";
    if (std::strcmp(name, "hwca") != 0) {
      std::fprintf(stderr, "FAIL: %s signs with provider '%s', not hwca\n", k.label.c_str(), name);
      status = 1;
    }
  }

  std::fprintf(stderr,
               "%s; %u hardware threads; %.1f s per run after %.1f s warm-up, %d round(s); "
               "signing threads %s\n",
               OpenSSL_version(OPENSSL_VERSION), std::thread::hardware_concurrency(), opt.seconds,
               opt.warmup, opt.rounds, opt.pin ? "pinned" : "not pinned");

  Bench bench{opt, in, raw, slot, (*ctx)->libctx()};
  std::vector<Row> rows;
  size_t verified[2] = {0, 0};
  for (const auto& k : keys) {
    for (int nthreads : opt.threads) {
      Row row;
      row.key = tokens::key_type_name(k.type);
      row.threads = nthreads;
      for (int round = 1; round <= opt.rounds; ++round) {
        for (Path path : opt.paths) {
          RunResult r = bench.run(k, nthreads, path);
          (path == Path::raw ? row.raw : row.provider).push_back(r.rate);
          (path == Path::raw ? row.raw_cpu : row.provider_cpu).push_back(r.cpu_us);
          verified[path == Path::raw ? 0 : 1] += r.verified;
          std::fprintf(stderr,
                       "%-9s threads=%d round %d %-8s %8.0f sig/s  %7.1f us cpu/sig  %4.2f cores"
                       "  (%llu in %.2f s; %llu made, %zu checked; on cpu %s)\n",
                       row.key.c_str(), nthreads, round, path_name(path), r.rate, r.cpu_us,
                       r.cpu_busy, static_cast<unsigned long long>(r.signatures), r.seconds,
                       static_cast<unsigned long long>(r.made), r.verified, r.cpus.c_str());
          for (const auto& f : r.failures) {
            std::fprintf(stderr, "FAIL: %s %s\n", row.key.c_str(), f.c_str());
            status = 1;
          }
        }
      }
      rows.push_back(std::move(row));
    }
  }
  raw.close_session(main_session);

  std::fprintf(stderr, "verified %zu raw and %zu provider signatures with the public key%s\n",
               verified[0], verified[1], status == 0 ? "" : " (FAILURES above)");
  print_table(rows, opt.markdown);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  try {
    opt = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca_sign_bench: %s\n", e.what());
    usage(stderr);
    tokens::shutdown_all();
    return 2;
  }
  if (opt.help) {
    usage(stdout);
    tokens::shutdown_all();
    return 0;
  }
  int status = 2;
  try {
    SoftHsmToken token("hwca-bench");
    try {
      status = run_bench(opt, token);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hwca_sign_bench: %s\n", e.what());
      status = 2;
    }
    // Before the token folder goes and before static destructors: close hwca's sessions.
    tokens::shutdown_all();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca_sign_bench: %s\n", e.what());
    tokens::shutdown_all();
  }
  return status;
}
