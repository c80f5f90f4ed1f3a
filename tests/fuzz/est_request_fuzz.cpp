// The EST server end to end in process (src/est): cpp-httplib's parsing and hwca's routes
// (path and label, methods, Content-Type and Content-Length, the body's bound), Basic
// authentication against a real SQLite registry of bootstrap tokens, the request body and
// the kubelet node policy, then issuing under a CA whose key is a software P-256 key from
// OpenSSL's default provider (no token), recorded in the issuance database and audit log.
// EstServer::answer() is the seam: one request's bytes in, the reply's bytes out.
//
// Input, four parts (fuzz_input.hpp): method, path, header lines, body. The request line,
// "Content-Length" (unless the headers give it or Transfer-Encoding) and the blank line are
// added. A header line "X-Fuzz-Basic: user:password" becomes "Authorization: Basic
// base64(user:password)" in which "@TOKEN@" is replaced by a bootstrap token made for
// `user` just before (so that a seed can authenticate every time, however often it runs).
// HWCA_FUZZ_SHOW=1 prints each reply's status line. Beyond not crashing: every reply is HTTP/1.1
// with a status of 200-599 (after an interim "100 Continue").
#include <openssl/pem.h>
#include <stdlib.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ca/audit_log.hpp"
#include "ca/bootstrap_token.hpp"
#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuer.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/base64.hpp"
#include "est/est_server.hpp"
#include "est/est_service.hpp"
#include "fuzz/fuzz_input.hpp"
#include "support/test_ca.hpp"

namespace {

using hwca::fuzz::broken;
using hwca::fuzz::check;
namespace ca = hwca::ca;
namespace est = hwca::est;

constexpr const char* kCa = "fuzz-ca";
// Issued certificates pile up in the database: a new CA home every so many inputs.
constexpr size_t kInputsPerHome = 5000;

const ca::CryptoContext& crypto() {
  static const ca::CryptoContext* made = [] {
    auto c = ca::CryptoContext::create(ca::CryptoContext::Scope::process_default);
    if (!c) broken("no CryptoContext");
    return c->release();
  }();
  return *made;
}

// A CA home in memory where there is a tmpfs (its syncs are cheap), with one root CA.
struct World {
  std::string dir;
  std::optional<ca::Home> home;
  std::unique_ptr<ca::SqliteIssuanceStore> db;
  std::unique_ptr<ca::Issuer> issuer;
  std::unique_ptr<ca::AuditLog> audit;
  hwca::ossl::Ptr<X509> ca_cert;
  est::Metrics metrics;
  std::unique_ptr<est::EstService> service;
  std::unique_ptr<est::EstServer> server;

  World() {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string templ = base + "/hwca-fuzz-est-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) broken("mkdtemp");
    dir = templ;
    auto h = ca::Home::open(dir + "/home", true);
    if (!h) broken("Home::open");
    home.emplace(std::move(*h));
    auto key = hwca::test::software_key();
    ca_cert = hwca::test::certificate("hwca fuzz CA", key.get(), nullptr, key.get());
    std::filesystem::create_directories(home->path("cas/fuzz-ca"));
    for (const char* file : {"cas/fuzz-ca/cert.pem", "cas/fuzz-ca/chain.pem"}) {
      hwca::ossl::Ptr<BIO> bio(BIO_new_file(home->path(file).c_str(), "w"));
      if (!bio || PEM_write_bio_X509(bio.get(), ca_cert.get()) != 1) broken("CA certificate");
    }
    ca::Config config = home->config();
    ca::CaEntry entry;
    entry.key = "pkcs11:object=unused-software-key";  // never loaded: use_key() below
    entry.cert = "cas/fuzz-ca/cert.pem";
    config.cas[kCa] = entry;
    if (!home->save(config)) broken("Home::save");
    auto store = ca::SqliteIssuanceStore::open(home->path(config.database));
    if (!store) broken("SqliteIssuanceStore::open");
    db = std::move(*store);
    auto is = ca::Issuer::open_unkeyed(*home, crypto(), *db, kCa);
    if (!is || !(*is)->use_key(std::move(key))) broken("Issuer");
    issuer = std::move(*is);
    audit = std::make_unique<ca::AuditLog>(home->path(config.audit_log));
    service =
        std::make_unique<est::EstService>(*issuer, *db, *db, *audit, metrics, crypto().libctx(),
                                          std::vector<const X509*>{ca_cert.get()});
    service->set_log([](const std::string&) {});
    server = std::make_unique<est::EstServer>(*service, metrics, est::ServerOptions{});
  }
  ~World() {
    server.reset();
    service.reset();
    issuer.reset();
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // A fresh bootstrap token for `node`, valid for an hour; its text ("" if `node` is no node name).
  // A new id already taken is drawn again, as `hwca bootstrap create` does: one chance in
  // two billion per token kept, but a long run keeps millions of them.
  std::string token_for(const std::string& node) {
    if (!ca::valid_node_name(node)) return "";
    ca::BootstrapToken token;
    token.node = node;
    token.created_at = std::time(nullptr);
    token.expires_at = token.created_at + 3600;
    token.created_by = "fuzz";
    for (int attempt = 0;; ++attempt) {
      auto made = ca::make_bootstrap_token();
      if (!made) broken("make_bootstrap_token");
      token.id = made->id;
      auto added = db->add_token(token, ca::bootstrap_token_hash(made->text));
      if (added) return made->text;
      if (added.error().kind != hwca::ErrorKind::conflict || attempt == 2) {
        broken(("add_token: " + added.error().message).c_str());
      }
    }
  }
};

std::unique_ptr<World>& world() {
  static std::unique_ptr<World> w;
  return w;
}

bool starts_with_nocase(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  }
  return true;
}

// One header line as it goes on the wire (X-Fuzz-Basic made into Authorization).
std::string header_line(World& w, std::string_view line) {
  constexpr std::string_view kBasic = "x-fuzz-basic: ";
  if (!starts_with_nocase(line, kBasic)) return std::string(line);
  std::string plain(line.substr(kBasic.size()));
  const size_t colon = plain.find(':');
  const size_t at = plain.find("@TOKEN@");
  if (colon != std::string::npos && at != std::string::npos && at > colon) {
    plain.replace(at, 7, w.token_for(plain.substr(0, colon)));
  }
  return "Authorization: Basic " + hwca::base64_encode(plain);
}

std::string request_of(World& w, const std::vector<std::string_view>& p) {
  std::string raw = std::string(p[0]) + " " + std::string(p[1]) + " HTTP/1.1\r\n";
  bool framed = false;
  std::string_view headers = p[2];
  while (!headers.empty()) {
    size_t end = headers.find('\n');
    std::string_view line = headers.substr(0, end);
    headers.remove_prefix(end == std::string_view::npos ? headers.size() : end + 1);
    if (line.empty()) continue;
    framed = framed || starts_with_nocase(line, "content-length:") ||
             starts_with_nocase(line, "transfer-encoding:");
    raw += header_line(w, line) + "\r\n";
  }
  if (!framed) raw += "Content-Length: " + std::to_string(p[3].size()) + "\r\n";
  raw += "\r\n";
  raw += p[3];
  return raw;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static size_t inputs = 0;
  auto& w = world();
  if (!w || ++inputs % kInputsPerHome == 0) {
    w.reset();
    w = std::make_unique<World>();
  }
  const std::string reply = w->server->answer(request_of(*w, hwca::fuzz::parts(data, size, 4)));
  // HWCA_FUZZ_SHOW=1: each reply's status line on stderr (to see what the seeds reach).
  static const bool show = std::getenv("HWCA_FUZZ_SHOW") != nullptr;
  if (show) std::fprintf(stderr, "%s\n", reply.substr(0, reply.find('\r')).c_str());
  if (reply.empty()) return 0;
  // "Expect: 100-continue" is answered with an interim 100 first (RFC 9110 15.2.1).
  std::string_view final_reply = reply;
  constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  if (final_reply.substr(0, kContinue.size()) == kContinue)
    final_reply.remove_prefix(
        kContinue.size());  // a request the library dropped without a word (no request line)
  check(final_reply.substr(0, 9) == "HTTP/1.1 " && final_reply.size() >= 12,
        "a reply that is not HTTP/1.1");
  const int status = std::atoi(std::string(final_reply.substr(9, 3)).c_str());
  check(status >= 200 && status <= 599, "a reply status outside 200-599");
  ERR_clear_error();
  return 0;
}
