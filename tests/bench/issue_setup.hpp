// What hwca_issue_bench issues with and from: a root CA made with init_ca in a new home,
// its ec-p256 key in the SoftHSM token, an Issuer over the home's issuance database, and
// requests made with plain OpenSSL before anything is timed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_key.hpp"
#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuer.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "support/softhsm_token.hpp"

namespace hwca::bench {

// The file system holding `path`: "ext4 (/dev/vda on /)", from /proc/self/mounts.
std::string describe_filesystem(const std::string& path);

struct Csr {
  std::string pem;
  std::vector<unsigned char> spki;  // its public key, DER SubjectPublicKeyInfo
};

// `n` requests, each for a new ec-p256 key: CN=client-<i>.bench.example and DNS names
// client-<i>.bench.example and alt-<i>.bench.example, signed with SHA-256, all in OpenSSL's
// default provider.
std::vector<Csr> make_csrs(int n);

// The requests hwca_issue_bench makes of the CA: profile "client", the profile's validity.
ca::SignRequest sign_request(const std::vector<Csr>& csrs, size_t i);

// A CA home for a benchmark: the library context with the provider, the home made in
// `dir`, and its issuance database. Throws std::runtime_error naming what failed.
struct BenchHome {
  std::unique_ptr<ca::CryptoContext> crypto;
  std::optional<ca::Home> home;
  std::unique_ptr<ca::SqliteIssuanceStore> store;

  std::string audit_path() const { return home->path(home->config().audit_log); }
};
BenchHome open_bench_home(const std::string& dir);

struct BenchCa : BenchHome {
  static constexpr const char* kName = "root";
  BenchKey key;  // the CA key: label and URI; public_key is filled in by the caller
  std::unique_ptr<ca::Issuer> issuer;  // over `store`, shared by all threads
  tokens::OpenOptions key_options;
};

// Generates the CA key in `token`, makes the home in `home_dir`, the root CA in it (its
// certificate recorded in the home's issuance database) and the Issuer. Throws
// std::runtime_error naming what failed.
std::unique_ptr<BenchCa> make_ca(const test::SoftHsmToken& token, const std::string& home_dir);

}  // namespace hwca::bench
