#include "bench/bench_run.hpp"

#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>

namespace hwca::bench {

using test::RawPkcs11;

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kSamplesPerThread = 32;  // signatures kept per thread and run for checking
constexpr size_t kSampleEvery = 257;      // ... the first two, then every 257th

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

}  // namespace

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

RunResult Bench::run(const BenchKey& key, int nthreads, Path path) {
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
      out.failures.push_back(std::string(path_name(path)) + " thread " + std::to_string(i) + ": " +
                             r.error);
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

}  // namespace hwca::bench
