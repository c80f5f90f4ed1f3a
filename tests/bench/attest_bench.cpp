// hwca_attest_bench: what TPM attestation adds to the server's cost of one enrollment.
//
// In one process and on one thread, an EstService over a CA whose key is in SoftHSM2 (as
// hwca serve has it, without HTTP and TLS, which both paths share) answers, alternately:
//   simpleenroll  a kubelet-client request with a bootstrap token (claimed, issued,
//                 recorded, audited)
//   attestation   round 1 (registry lookup, AK checks, MakeCredential with an RSA-2048 EK)
//                 and round 2 (secret, key checks, TPM2_Certify evidence, the request's key;
//                 then issued, recorded and audited as simpleenroll)
// The node's side (software stand-ins for its TPM: activation and certify) and the making
// of tokens and requests happen between the timed calls, not in them. Each row is the
// median of --runs runs of --rounds enrollments of each kind; "cpu" is the thread's CPU
// time, "wall" includes the database's syncs. The ratio attestation/simpleenroll is what
// the target (at most 1.25) is about.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "attest/ek_certificate.hpp"
#include "attest/protocol.hpp"
#include "bench/bench_main.hpp"
#include "bench/bench_report.hpp"
#include "bench/issue_setup.hpp"
#include "ca/audit_log.hpp"
#include "ca/bootstrap_token.hpp"
#include "common/base64.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"
#include "est/est_service.hpp"
#include "support/softhsm_token.hpp"
#include "support/temp_dir.hpp"
#include "support/test_csr.hpp"
#include "unit/attest_keys.hpp"
#include "unit/attest_soft_activation.hpp"

namespace hwca::bench {
namespace {

namespace soft = attest::test;
using attest::Bytes;

struct Options {
  bool help = false;
  int rounds = 100;
  int runs = 5;
  bool markdown = false;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: hwca_attest_bench [--rounds N] [--runs N] [--markdown]\n"
               "  --rounds N   enrollments of each kind per run (default 100)\n"
               "  --runs N     runs; the table shows medians (default 5)\n");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> int {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      int v = std::atoi(argv[++i]);
      if (v < 1) throw std::runtime_error(a + " must be at least 1");
      return v;
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--rounds") {
      o.rounds = value();
    } else if (a == "--runs") {
      o.runs = value();
    } else if (a == "--markdown") {
      o.markdown = true;
    } else {
      throw std::runtime_error("unknown option " + a);
    }
  }
  return o;
}

struct Stopwatch {
  double wall = 0, cpu = 0;  // seconds, summed
  template <typename Fn>
  auto time(Fn&& fn) {
    timespec c0{}, c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    auto w0 = std::chrono::steady_clock::now();
    auto r = fn();
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    cpu += static_cast<double>(c1.tv_sec - c0.tv_sec) + 1e-9 * static_cast<double>(c1.tv_nsec - c0.tv_nsec);
    return r;
  }
};

ossl::Ptr<X509_NAME> node_subject(const std::string& node) {
  return test::name_of({{"CN", "system:node:" + node}, {"O", "system:nodes"}});
}

void check(const est::Reply& r, const char* what) {
  if (r.status != 200) {
    throw std::runtime_error(std::string(what) + " answered " + std::to_string(r.status) + ": " +
                             r.body);
  }
}

struct Bench {
  BenchCa& ca;
  est::EstService& service;
  int serial = 0;
  // One EK for every node (each node's registration is dropped after its enrollment): an
  // RSA key pair takes longer to make than the whole enrollment.
  ossl::Ptr<EVP_PKEY> ek = soft::rsa_key(2048);

  // One simpleenroll with a new bootstrap token, timed.
  void simple(Stopwatch& sw) {
    const std::string node = "s" + std::to_string(++serial);
    auto made = ca::make_bootstrap_token();
    if (!made) throw std::runtime_error(made.error().message);
    ca::BootstrapToken token;
    token.id = made->id;
    token.node = node;
    token.created_at = std::time(nullptr);
    token.expires_at = token.created_at + 3600;
    token.created_by = "bench";
    if (auto ok = ca.store->add_token(token, ca::bootstrap_token_hash(made->text)); !ok) {
      throw std::runtime_error(ok.error().message);
    }
    auto key = soft::ec_key();
    std::string body = base64_encode(test::csr_der(test::make_csr(key.get(), node_subject(node).get()).get()));
    est::Caller caller;
    caller.address = "127.0.0.1:1";
    caller.has_basic = true;
    caller.basic_user = node;
    caller.basic_password = SecureString(made->text);
    check(sw.time([&] {
            return service.enroll(est::Operation::enroll, "", body, est::kPkcs10Type, caller);
          }),
          "simpleenroll");
  }

  // Both attestation rounds for a newly registered node, each timed (in `sw`, and apart in
  // `r1` and `r2`); the node's side not.
  void attested(Stopwatch& sw, Stopwatch& r1, Stopwatch& r2) {
    const std::string node = "a" + std::to_string(++serial);
    auto ak = soft::ec_key(), key = soft::ec_key();
    ca::NodeTpm t;
    t.node = node;
    t.ek_sha256 = attest::ek_spki_sha256(ek.get());
    t.ek_kind = "public-key";
    t.ek_der = attest::ek_spki_der(ek.get());
    t.registered_at = std::time(nullptr);
    t.registered_by = "bench";
    if (auto ok = ca.store->register_tpm(t); !ok) throw std::runtime_error(ok.error().message);
    const TPMT_PUBLIC ak_area = soft::area_of(ak.get(), soft::kAkAttrs);
    const TPMT_PUBLIC key_area = soft::area_of(key.get(), soft::kKeyAttrs);
    attest::ChallengeRequest request1{node, {}, soft::marshal_public(soft::area_of(ek.get(), soft::kEkAttrs)),
                                soft::marshal_public(ak_area)};
    const std::string j1 = attest::to_json(request1);
    est::Caller caller;
    caller.address = "127.0.0.1:1";
    auto reply = sw.time([&] {
      return r1.time([&] { return service.attest_challenge(j1, attest::kJsonType, caller); });
    });
    check(reply, "round 1");
    auto c = attest::challenge_reply_from_json(reply.body);
    if (!c) throw std::runtime_error(c.error().message);
    attest::EnrollRequest e;
    e.node = node;
    e.nonce = c->nonce;
    auto secret = soft::activate(ek.get(), "SHA256", 32, 16, soft::name_sha256(ak_area),
                                 {c->credential_blob, c->encrypted_secret});
    if (!secret) throw std::runtime_error("the credential did not activate");
    e.secret = *secret;
    std::string csr = test::csr_der(test::make_csr(key.get(), node_subject(node).get()).get());
    e.csr = Bytes(csr.begin(), csr.end());
    e.key_public = soft::marshal_public(key_area);
    e.certify_info = soft::marshal_attest(
        soft::certify_info(soft::name_sha256(key_area), attest::qualifying_data(e.nonce, e.csr)));
    e.certify_signature = soft::sign(ak.get(), e.certify_info);
    const std::string j2 = attest::to_json(e);
    check(sw.time([&] {
            return r2.time([&] { return service.attest_enroll(j2, attest::kJsonType, caller); });
          }),
          "round 2");
    if (auto ok = ca.store->unregister_tpm(node); !ok) throw std::runtime_error(ok.error().message);
  }
};

int run(const Options& o) {
  test::TempDir dir("hwca-attest-bench");
  test::SoftHsmToken token("attest-bench", dir.path());
  CloseTokensOnExit close_tokens;
  auto ca = make_ca(token, dir.file("home"));
  ca::AuditLog audit(ca->audit_path());
  est::Metrics metrics;
  est::EstService service(*ca->issuer, *ca->store, *ca->store, audit, metrics,
                          ca->crypto->libctx(), {ca->issuer->ca_cert()});
  service.set_log([](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  service.enable_attestation(*ca->store, {});
  Bench bench{*ca, service};
  Stopwatch warm;  // sessions, statements, first syncs
  bench.simple(warm);
  bench.attested(warm, warm, warm);
  std::vector<double> s_cpu, s_wall, a_cpu, a_wall, ratio_cpu, ratio_wall, r1_cpu, r2_cpu, r1_wall,
      r2_wall;
  for (int run = 0; run < o.runs; ++run) {
    Stopwatch s, a, r1, r2;
    for (int i = 0; i < o.rounds; ++i) {
      if (i % 2 == 0) {
        bench.simple(s);
        bench.attested(a, r1, r2);
      } else {
        bench.attested(a, r1, r2);
        bench.simple(s);
      }
    }
    s_cpu.push_back(1e6 * s.cpu / o.rounds);
    s_wall.push_back(1e6 * s.wall / o.rounds);
    a_cpu.push_back(1e6 * a.cpu / o.rounds);
    a_wall.push_back(1e6 * a.wall / o.rounds);
    r1_cpu.push_back(1e6 * r1.cpu / o.rounds);
    r2_cpu.push_back(1e6 * r2.cpu / o.rounds);
    r1_wall.push_back(1e6 * r1.wall / o.rounds);
    r2_wall.push_back(1e6 * r2.wall / o.rounds);
    ratio_cpu.push_back(a.cpu / s.cpu);
    ratio_wall.push_back(a.wall / s.wall);
  }
  print_cells({{"enrollment", "cpu us", "per s (one core)", "wall us", "wall per s"},
               {"simpleenroll", fmt(0, median(s_cpu)), fmt(0, 1e6 / median(s_cpu)),
                fmt(0, median(s_wall)), fmt(0, 1e6 / median(s_wall))},
               {"attestation (2 rounds)", fmt(0, median(a_cpu)), fmt(0, 1e6 / median(a_cpu)),
                fmt(0, median(a_wall)), fmt(0, 1e6 / median(a_wall))},
               {"  round 1 (challenge)", fmt(0, median(r1_cpu)), "", fmt(0, median(r1_wall)), ""},
               {"  round 2 (evidence, issue)", fmt(0, median(r2_cpu)), "", fmt(0, median(r2_wall)),
                ""},
               {"attestation / simpleenroll", fmt(2, median(ratio_cpu)), "", fmt(2, median(ratio_wall)), ""}},
              o.markdown);
  return 0;
}

}  // namespace
}  // namespace hwca::bench

int main(int argc, char** argv) {
  return hwca::bench::bench_main<hwca::bench::Options>("hwca_attest_bench", argc, argv,
                                                       hwca::bench::parse, hwca::bench::usage,
                                                       hwca::bench::run);
}
