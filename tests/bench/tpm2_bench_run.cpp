#include "bench/tpm2_bench_run.hpp"

#include <dirent.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>

#include "tokens/registry.hpp"
#include "tokens/tpm2/tcti.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double process_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// The CPU time of every thread of `pid` (/proc/PID/task/*/schedstat: nanoseconds on CPU).
double tpm_cpu_us(pid_t pid) {
  if (pid <= 0) return 0;
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return 0;
  double ns = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(tasks + "/" + e->d_name + "/schedstat");
    double run = 0;
    if (in >> run) ns += run;
  }
  ::closedir(dir);
  return ns / 1e3;
}

bool verifies(EVP_PKEY* pub, std::span<const uint8_t> message, const std::vector<uint8_t>& sig) {
  ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  bool ok = md &&
            EVP_DigestVerifyInit_ex(md.get(), nullptr, "SHA256", nullptr, ossl::kDefaultProps, pub,
                                    nullptr) == 1 &&
            EVP_DigestVerify(md.get(), sig.data(), sig.size(), message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

ossl::Ptr<EVP_PKEY> file_public_key(const std::string& tcti, const std::string& file) {
  tokens::OpenOptions options;
  options.tcti = tcti;
  std::string uri = "tpm2:file=" + file;
  auto store = tokens::open_store(uri, options);
  if (!store) throw std::runtime_error(store.error().message);
  auto pub = (*store)->get_public_key(uri);
  if (!pub) throw std::runtime_error(pub.error().message);
  return std::move(*pub);
}

SignRun run_sign_phase(SignPath path, const Tpm2Target& target, const std::string& key_file,
                       EVP_PKEY* pub, std::span<const uint8_t> message, int n) {
  SignRun r;
  std::vector<std::vector<uint8_t>> samples;
  const int stride = n / 6 + 1;
  try {
    auto t0 = Clock::now();
    auto session = open_sign_session(path, target.tcti, key_file);
    r.open_ms = ms_since(t0);
    t0 = Clock::now();
    samples.push_back(session->sign(message));
    r.first_ms = ms_since(t0);

    double cpu0 = process_cpu_us(), tpm0 = tpm_cpu_us(target.tpm_pid);
    t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> sig = session->sign(message);
      if (i == 0 || (i + 1) % stride == 0) samples.push_back(std::move(sig));
    }
    double seconds = ms_since(t0) / 1e3;
    r.host_cpu_us = (process_cpu_us() - cpu0) / n;
    r.tpm_cpu_us = (tpm_cpu_us(target.tpm_pid) - tpm0) / n;
    r.rate = n / seconds;

    if (EVP_PKEY_eq(session->key(), pub) != 1) {
      r.failures.push_back("the key loaded is not the key in the file (EVP_PKEY_eq)");
    }
    ERR_clear_error();
  } catch (const std::exception& e) {
    r.failures.push_back(e.what());
  }
  std::set<std::string> distinct;  // (strings: GCC 12 warns falsely on vectors)
  for (const auto& sig : samples) {
    if (verifies(pub, message, sig)) {
      ++r.verified;
    } else {
      r.failures.push_back("a signature does not verify with the key file's public key");
    }
    distinct.insert(std::string(sig.begin(), sig.end()));
  }
  if (distinct.size() != samples.size()) {
    r.failures.push_back("two ECDSA signatures are equal (the nonce must be random)");
  }
  return r;
}

SignRun run_round_trips(const Tpm2Target& target, int n) {
  SignRun r;
  try {
    auto t0 = Clock::now();
    auto ctx = tokens::tpm2::TpmContext::open(tokens::tpm2::choose_tcti(target.tcti, nullptr));
    if (!ctx) throw std::runtime_error(ctx.error().message);
    r.open_ms = ms_since(t0);
    double cpu0 = process_cpu_us(), tpm0 = tpm_cpu_us(target.tpm_pid);
    t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      TSS2_RC rc = (*ctx)->with([](ESYS_CONTEXT* esys) {
        TPM2B_DIGEST* random = nullptr;
        TSS2_RC got = Esys_GetRandom(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 8, &random);
        Esys_Free(random);
        return got;
      });
      if (rc != TSS2_RC_SUCCESS) throw std::runtime_error("TPM2_GetRandom failed");
    }
    r.rate = n / (ms_since(t0) / 1e3);
    r.host_cpu_us = (process_cpu_us() - cpu0) / n;
    r.tpm_cpu_us = (tpm_cpu_us(target.tpm_pid) - tpm0) / n;
  } catch (const std::exception& e) {
    r.failures.push_back(e.what());
  }
  tokens::tpm2::TpmContext::close_all();
  return r;
}

MakeRun run_make(MakePath path, const Tpm2Target& target, tokens::KeyType type,
                 const std::string& file) {
  MakeRun r;
  try {
    r.made = open_key_maker(path, target.tcti)->make(type, file);  // context closed after
    auto pub = file_public_key(target.tcti, file);
    if (tokens::key_type_of(pub.get()) != tokens::key_type_name(type)) {
      r.failure = file + " holds an " + tokens::key_type_of(pub.get()) + " key, not " +
                  tokens::key_type_name(type);
    }
  } catch (const std::exception& e) {
    r.failure = e.what();
  }
  return r;
}

}  // namespace hwca::bench
