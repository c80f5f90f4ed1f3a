#include "bench/bench_run.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <exception>

namespace hwca::bench {

using test::RawPkcs11;

namespace {

constexpr size_t kSamplesPerThread = 32;  // signatures kept per thread and run for checking
constexpr size_t kSampleEvery = 257;      // ... the first two, then every 257th

using Samples = std::vector<std::vector<unsigned char>>;

// Loops `sign` (returns the signature length, 0 on failure, and sets *error) until stopped.
template <typename Sign>
void sign_loop(Control& ctl, ThreadTiming& t, Samples& samples, size_t max_sig, Sign&& sign) {
  std::vector<unsigned char> sig(max_sig);
  timed_loop(ctl, t, [&](std::string* error) -> uint64_t {
    size_t len = sign(sig.data(), sig.size(), error);
    if (len == 0) return 0;
    if ((t.total < 2 || t.total % kSampleEvery == 0) && samples.size() < kSamplesPerThread) {
      samples.emplace_back(sig.data(), sig.data() + len);
    }
    return 1;
  });
}

void raw_thread(RawPkcs11& raw, CK_SLOT_ID slot, const BenchKey& key, const Input& in, Control& ctl,
                ThreadTiming& t, Samples& samples) {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  try {
    s = raw.open_session(slot);
    obj = raw.find(s, CKO_PRIVATE_KEY, key.label);
  } catch (const std::exception& e) {
    t.error = std::string("raw session setup: ") + e.what();
    if (s != CK_INVALID_HANDLE) raw.close_session(s);
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
  sign_loop(ctl, t, samples, static_cast<size_t>(EVP_PKEY_get_size(key.public_key.get())), sign);
  raw.close_session(s);
}

void provider_thread(OSSL_LIB_CTX* libctx, const BenchKey& key, const Input& in, Control& ctl,
                     ThreadTiming& t, Samples& samples) {
  ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  if (!md) {
    t.error = "EVP_MD_CTX_new failed";
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
  sign_loop(ctl, t, samples, static_cast<size_t>(EVP_PKEY_get_size(pkey)), sign);
}

}  // namespace

RunResult Bench::run(const BenchKey& key, int nthreads, Path path) {
  std::vector<Samples> samples(static_cast<size_t>(nthreads));
  std::vector<ThreadTiming> timings(samples.size());
  RunResult out;
  static_cast<Timing&>(out) =
      run_timed(opt.window(), cpus, timings, [&](int i, Control& ctl, ThreadTiming& t) {
        Samples& mine = samples[static_cast<size_t>(i)];
        if (path == Path::raw) {
          raw_thread(raw, slot, key, in, ctl, t, mine);
        } else {
          provider_thread(libctx, key, in, ctl, t, mine);
        }
      });
  std::vector<const std::vector<unsigned char>*> seen;
  size_t repeated = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!timings[i].error.empty()) {
      out.failures.push_back(std::string(path_name(path)) + " thread " + std::to_string(i) + ": " +
                             timings[i].error);
    }
    for (const auto& sig : samples[i]) {
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
  return out;
}

}  // namespace hwca::bench
