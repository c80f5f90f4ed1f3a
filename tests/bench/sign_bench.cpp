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
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <p11-kit/pkcs11.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_key.hpp"
#include "bench/bench_main.hpp"
#include "bench/bench_options.hpp"
#include "bench/bench_report.hpp"
#include "bench/bench_run.hpp"
#include "ca/crypto_context.hpp"
#include "common/ossl.hpp"
#include "support/raw_pkcs11.hpp"
#include "support/softhsm_token.hpp"
#include "tokens/keystore.hpp"

namespace hwca::bench {
namespace {

using test::RawPkcs11;
using test::SoftHsmToken;

int run_bench(const Options& opt, SoftHsmToken& token) {
  auto ctx = hwca::ca::CryptoContext::create();
  if (!ctx) throw std::runtime_error("CryptoContext: " + ctx.error().message);
  const Input in = make_input();

  // Keys: generated in the token through hwca's key store, loaded through the provider.
  std::vector<BenchKey> keys;
  for (tokens::KeyType type : opt.types) {
    BenchKey k = generate_key(token, type, std::string("bench-") + tokens::key_type_name(type));
    auto pkey = (*ctx)->load_private_key(k.uri, key_load_options(token));
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
                       r.cpu_busy, static_cast<unsigned long long>(r.units), r.seconds,
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
}  // namespace hwca::bench

int main(int argc, char** argv) {
  using hwca::bench::Options;
  return hwca::bench::bench_main<Options>("hwca_sign_bench", argc, argv, hwca::bench::parse_options,
                                          hwca::bench::usage, [](const Options& opt) {
                                            hwca::test::SoftHsmToken token("hwca-bench");
                                            hwca::bench::CloseTokensOnExit close_tokens;
                                            return hwca::bench::run_bench(opt, token);
                                          });
}
