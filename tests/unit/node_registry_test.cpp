// Unit tests for src/ca/node_registry.hpp as SqliteIssuanceStore implements it: tokens are
// added, listed and revoked; every refused claim says why and changes nothing; a claim
// registers the node, and of two concurrent claims of one token exactly one wins; schema
// version 1 files are upgraded (rows kept), read as empty when opened read-only, and newer
// files are refused.
#include "ca/node_registry.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "ca/bootstrap_token.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/text.hpp"
#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using hwca::Result;
using namespace hwca::ca;

// Schema version 1 exactly as hwca 0.1 (before the node registry) created it: the fixture
// for upgrades. Do not change it to follow the current schema.
const char* const kSchemaV1Fixture = R"sql(
PRAGMA journal_mode = WAL;
CREATE TABLE certs (
  id INTEGER PRIMARY KEY,
  ca TEXT NOT NULL CHECK (ca <> ''),
  serial TEXT NOT NULL CHECK (serial <> ''),
  profile TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  requester TEXT NOT NULL,
  der BLOB NOT NULL,
  revoked_at INTEGER,
  revocation_reason INTEGER,
  recorded_at INTEGER NOT NULL,
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) STRICT;
CREATE UNIQUE INDEX certs_by_ca_serial ON certs (ca, serial);
CREATE INDEX certs_by_serial ON certs (serial);
CREATE INDEX certs_by_not_after ON certs (not_after, serial);
CREATE INDEX certs_revoked ON certs (ca, revoked_at) WHERE revoked_at IS NOT NULL;
CREATE TABLE cert_sans (
  cert_id INTEGER NOT NULL REFERENCES certs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  san TEXT NOT NULL,
  PRIMARY KEY (cert_id, position)
) STRICT, WITHOUT ROWID;
CREATE TABLE crl_numbers (
  ca TEXT PRIMARY KEY,
  last INTEGER NOT NULL CHECK (last > 0)
) STRICT;
PRAGMA application_id = 1752654689;
PRAGMA user_version = 1;
INSERT INTO certs (ca, serial, profile, subject, not_before, not_after, requester, der,
                   revoked_at, revocation_reason, recorded_at)
  VALUES ('root', '0a1b', 'server', 'CN=old.example', 1700000000, 1800000000, 'cli:uid=0',
          x'3082000a', 1750000000, 1, 1700000001);
INSERT INTO cert_sans (cert_id, position, san) VALUES (1, 0, 'DNS:old.example');
INSERT INTO crl_numbers (ca, last) VALUES ('root', 7);
)sql";

constexpr int64_t kNow = 1900000000;
constexpr int64_t kExpires = 2000000000;  // 2033-05-18 03:33:20Z

// A token with its text (the secret) and the record to store.
struct Made {
  std::string text;
  BootstrapToken token;
  Sha256 hash{};
};

Made make(const std::string& node, std::vector<std::string> addresses = {"10.0.0.5"},
          int64_t created = kNow - 100, int64_t expires = kExpires) {
  auto t = make_bootstrap_token();
  EXPECT_TRUE(t);
  Made m;
  m.text = t->text;
  m.token.id = t->id;
  m.token.node = node;
  m.token.addresses = std::move(addresses);
  m.token.created_at = created;
  m.token.expires_at = expires;
  m.token.created_by = "cli:uid=0";
  m.hash = bootstrap_token_hash(m.text);
  return m;
}

int64_t user_version(const std::string& path) {
  sqlite3* db = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return v;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class NodeRegistryTest : public ::testing::Test {
 protected:
  hwca::test::TempDir tmp_{"hwca-registry"};
  std::string path_ = tmp_.file("issuance.db");

  std::unique_ptr<SqliteIssuanceStore> open_store(bool read_only = false) {
    auto s = SqliteIssuanceStore::open(path_, {.read_only = read_only});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  void write_v1_file() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kSchemaV1Fixture, nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_close(db);
    ASSERT_EQ(user_version(path_), 1);
  }

  // Everything the registry holds about these tokens and nodes, to show a refusal changed
  // nothing.
  std::string snapshot(NodeRegistry& r, const std::vector<std::string>& nodes) {
    std::string out;
    auto all = r.tokens();
    EXPECT_TRUE(all);
    for (const auto& t : *all) {
      out += t.id + "|" + t.node + "|" + std::to_string(t.used_at) + "|" +
             std::to_string(t.revoked_at) + "|" + std::to_string(t.expires_at) + ";";
    }
    for (const auto& n : nodes) {
      auto rec = r.node(n);
      EXPECT_TRUE(rec);
      out += n + (rec && *rec ? "=" + std::to_string((*rec)->enrolled_at) : "=none") + ";";
      if (rec && *rec) {
        for (const auto& a : (*rec)->addresses) out += a + ",";
      }
    }
    return out;
  }
};

TEST_F(NodeRegistryTest, TokensAreAddedListedInOrderAndRevoked) {
  auto store = open_store();
  Made a = make("node-a", {"10.0.0.5", "fd00::5"}, kNow - 10);
  Made b = make("node-b", {}, kNow - 20);  // older: listed first
  ASSERT_TRUE(store->add_token(a.token, a.hash));
  ASSERT_TRUE(store->add_token(b.token, b.hash));
  auto all = store->tokens();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], b.token);
  EXPECT_EQ((*all)[1], a.token);

  // The same id again: conflict, and the stored one is untouched.
  Made again = make("node-c");
  again.token.id = a.token.id;
  auto dup = store->add_token(again.token, again.hash);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, ErrorKind::conflict) << dup.error().message;
  EXPECT_EQ(*store->tokens(), *all);

  auto unknown = store->revoke_token("zzzzzz", kNow);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
  EXPECT_EQ(unknown.error().message, "unknown bootstrap token 'zzzzzz'");

  ASSERT_TRUE(store->revoke_token(a.token.id, kNow + 1));
  auto after = store->tokens();
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)[1].revoked_at, kNow + 1);
  EXPECT_EQ((*after)[1].used_at, 0);
  EXPECT_EQ((*after)[0], b.token);
  auto twice = store->revoke_token(a.token.id, kNow + 2);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::conflict);
  EXPECT_NE(twice.error().message.find("was already revoked"), std::string::npos)
      << twice.error().message;
  EXPECT_EQ((*store->tokens())[1].revoked_at, kNow + 1);

  // A used token cannot be revoked.
  ASSERT_TRUE(store->claim_token(b.token.id, "node-b", b.hash, kNow));
  auto used = store->revoke_token(b.token.id, kNow + 3);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().kind, ErrorKind::conflict);
  EXPECT_NE(used.error().message.find("was already used"), std::string::npos)
      << used.error().message;
  EXPECT_EQ((*store->tokens())[0].revoked_at, 0);

  // It all survives reopening.
  store.reset();
  auto reopened = open_store(/*read_only=*/true);
  auto kept = reopened->tokens();
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ((*kept)[1].revoked_at, kNow + 1);
  EXPECT_EQ((*kept)[0].used_at, kNow);
}

TEST_F(NodeRegistryTest, MalformedTokensAreRefusedAndNothingIsStored) {
  auto store = open_store();
  auto refused = [&](Made m, const std::string& words) {
    auto r = store->add_token(m.token, m.hash);
    ASSERT_FALSE(r) << words;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << r.error().message;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
  };
  Made m = make("node-a");
  m.token.id = "ABCDEF";
  refused(m, "is not 6 characters");
  m = make("node-a");
  m.token.id = "abc";
  refused(m, "is not 6 characters");
  refused(make("Node_A"), "node name");
  refused(make("node-a", {"10.0.0.256"}), "is not an IP address in canonical form");
  refused(make("node-a", {"FD00::5"}), "is not an IP address in canonical form");
  refused(make("node-a", {"fd00:0::5"}), "is not an IP address in canonical form");
  refused(make("node-a", {"10.0.0.5/32"}), "is not an IP address in canonical form");
  refused(make("node-a", {"10.0.0.5"}, kNow, kNow), "expires before it was created");
  EXPECT_TRUE(store->tokens()->empty());
}

// Only the hash of the text is kept: the text is nowhere in the files.
TEST_F(NodeRegistryTest, TheDatabaseHoldsTheHashNotTheText) {
  Made m = make("node-a");
  {
    auto store = open_store();
    ASSERT_TRUE(store->add_token(m.token, m.hash));
  }
  const std::string secret = m.text.substr(7);
  for (const std::string& f : {path_, path_ + "-wal"}) {
    EXPECT_EQ(file_bytes(f).find(secret), std::string::npos) << f;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT secret_sha256 FROM bootstrap_tokens", -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  ASSERT_EQ(sqlite3_column_bytes(s, 0), 32);
  EXPECT_EQ(0, std::memcmp(sqlite3_column_blob(s, 0), m.hash.data(), 32));
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_F(NodeRegistryTest, EveryRefusedClaimSaysWhyAndChangesNothing) {
  auto store = open_store();
  Made fresh = make("node-a", {"10.0.0.5"});
  Made used = make("node-b", {"10.0.0.6"});
  Made revoked = make("node-c", {"10.0.0.7"});
  Made expired = make("node-d", {"10.0.0.8"}, kNow - 100, kNow - 1);
  for (const Made* m : {&fresh, &used, &revoked, &expired}) {
    ASSERT_TRUE(store->add_token(m->token, m->hash));
  }
  ASSERT_TRUE(store->claim_token(used.token.id, "node-b", used.hash, kNow - 50));
  ASSERT_TRUE(store->revoke_token(revoked.token.id, kNow - 40));
  const std::vector<std::string> nodes = {"node-a", "node-b", "node-c", "node-d", "node-x"};
  const std::string before = snapshot(*store, nodes);
  ASSERT_NE(before.find("node-b=" + std::to_string(kNow - 50)), std::string::npos) << before;

  const Sha256 wrong = bootstrap_token_hash(make("node-a").text);
  const std::string id = fresh.token.id;
  struct Case {
    std::string id, node;
    Sha256 hash;
    std::string message;
  };
  const Case cases[] = {
      {"zzzzzz", "node-a", fresh.hash, "unknown bootstrap token 'zzzzzz'"},
      {id, "node-x", fresh.hash, "bootstrap token '" + id + "' is for another node"},
      {id, "node-a", wrong, "wrong secret for bootstrap token '" + id + "'"},
      // The secret is checked before anything else is told.
      {id, "node-x", wrong, "wrong secret for bootstrap token '" + id + "'"},
      {revoked.token.id, "node-c", wrong,
       "wrong secret for bootstrap token '" + revoked.token.id + "'"},
      {used.token.id, "node-b", used.hash,
       "bootstrap token '" + used.token.id + "' was already used"},
      {revoked.token.id, "node-c", revoked.hash,
       "bootstrap token '" + revoked.token.id + "' was revoked"},
      {expired.token.id, "node-d", expired.hash,
       "bootstrap token '" + expired.token.id + "' expired on " + hwca::utc_text(kNow - 1)},
  };
  for (const auto& c : cases) {
    auto r = store->claim_token(c.id, c.node, c.hash, kNow);
    ASSERT_FALSE(r) << c.message;
    EXPECT_EQ(r.error().kind, ErrorKind::auth) << r.error().message;
    EXPECT_EQ(r.error().message, c.message);
    EXPECT_EQ(snapshot(*store, nodes), before) << c.message;
  }
  // The fresh token still works afterwards.
  auto ok = store->claim_token(id, "node-a", fresh.hash, kNow);
  ASSERT_TRUE(ok) << ok.error().message;
}

TEST_F(NodeRegistryTest, ATokenIsValidUntilJustBeforeItsExpiry) {
  auto store = open_store();
  Made a = make("node-a", {"10.0.0.5"}, kNow - 100, kExpires);
  Made b = make("node-b", {"10.0.0.6"}, kNow - 100, kExpires);
  ASSERT_TRUE(store->add_token(a.token, a.hash));
  ASSERT_TRUE(store->add_token(b.token, b.hash));
  auto last = store->claim_token(a.token.id, "node-a", a.hash, kExpires - 1);
  EXPECT_TRUE(last) << last.error().message;
  auto late = store->claim_token(b.token.id, "node-b", b.hash, kExpires);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, ErrorKind::auth);
  EXPECT_EQ(late.error().message,
            "bootstrap token '" + b.token.id + "' expired on 2033-05-18 03:33:20Z");
}

TEST_F(NodeRegistryTest, AClaimRegistersTheNodeWithTheTokensAddresses) {
  auto store = open_store();
  Made first = make("node-a", {"10.0.0.5", "fd00::5"});
  Made second = make("node-a", {"10.0.0.9"});
  Made other = make("node-b", {});
  for (const Made* m : {&first, &second, &other}) ASSERT_TRUE(store->add_token(m->token, m->hash));
  auto none = store->node("node-a");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  auto claimed = store->claim_token(first.token.id, "node-a", first.hash, kNow);
  ASSERT_TRUE(claimed) << claimed.error().message;
  BootstrapToken expected = first.token;
  expected.used_at = kNow;
  EXPECT_EQ(*claimed, expected);
  auto listed = store->tokens();
  ASSERT_TRUE(listed);
  EXPECT_EQ(std::count(listed->begin(), listed->end(), expected), 1);

  auto rec = store->node("node-a");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->name, "node-a");
  EXPECT_EQ((*rec)->addresses, (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  EXPECT_EQ((*rec)->enrolled_at, kNow);
  EXPECT_FALSE(store->node("node-b")->has_value());

  // A second token for the node replaces what it had.
  ASSERT_TRUE(store->claim_token(second.token.id, "node-a", second.hash, kNow + 60));
  rec = store->node("node-a");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->addresses, (std::vector<std::string>{"10.0.0.9"}));
  EXPECT_EQ((*rec)->enrolled_at, kNow + 60);

  ASSERT_TRUE(store->claim_token(other.token.id, "node-b", other.hash, kNow));
  rec = store->node("node-b");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_TRUE((*rec)->addresses.empty());
}

TEST_F(NodeRegistryTest, UnclaimGivesTheTokenBackAndRestoresTheRegistration) {
  auto store = open_store();
  Made first = make("node-a", {"10.0.0.5"});
  ASSERT_TRUE(store->add_token(first.token, first.hash));
  ASSERT_TRUE(store->claim_token(first.token.id, "node-a", first.hash, kNow));
  // A second token for the node, with other addresses, claimed and given back: the node's
  // registration is the first token's again.
  Made second = make("node-a", {"10.9.9.9"});
  ASSERT_TRUE(store->add_token(second.token, second.hash));
  ASSERT_TRUE(store->claim_token(second.token.id, "node-a", second.hash, kNow + 5));
  auto rec = store->node("node-a");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->addresses, (std::vector<std::string>{"10.9.9.9"}));
  ASSERT_TRUE(store->unclaim_token(second.token.id));
  rec = store->node("node-a");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->addresses, (std::vector<std::string>{"10.0.0.5"}));
  EXPECT_EQ((*rec)->enrolled_at, kNow);
  // Giving back a node's only token leaves it unregistered.
  Made lone = make("node-b", {"10.0.0.7"});
  ASSERT_TRUE(store->add_token(lone.token, lone.hash));
  ASSERT_TRUE(store->claim_token(lone.token.id, "node-b", lone.hash, kNow));
  ASSERT_TRUE(store->unclaim_token(lone.token.id));
  rec = store->node("node-b");
  ASSERT_TRUE(rec);
  EXPECT_FALSE(rec->has_value());
  auto tokens = store->tokens();
  ASSERT_TRUE(tokens);
  for (const auto& t : *tokens) {
    if (t.id == second.token.id) {
      EXPECT_EQ(t, second.token);  // used_at is 0 again
    }
  }
  // And it can be spent again.
  EXPECT_TRUE(store->claim_token(second.token.id, "node-a", second.hash, kNow + 10));
  rec = store->node("node-a");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->addresses, (std::vector<std::string>{"10.9.9.9"}));

  auto unknown = store->unclaim_token("zzzzzz");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
  EXPECT_EQ(unknown.error().message, "unknown bootstrap token 'zzzzzz'");
}

// Two threads claim the same token at the same moment, each through its own store object
// (so two SQLite connections, as two processes would), and through one shared object.
TEST_F(NodeRegistryTest, OfTwoConcurrentClaimsExactlyOneWins) {
  auto setup = open_store();
  constexpr int kRounds = 25;
  std::vector<Made> made;
  for (int i = 0; i < kRounds * 2; ++i) {
    made.push_back(make("node-" + std::to_string(i), {"10.0.1." + std::to_string(i)}));
    ASSERT_TRUE(setup->add_token(made.back().token, made.back().hash));
  }
  auto one = open_store();
  auto two = open_store();
  for (int i = 0; i < kRounds * 2; ++i) {
    const bool shared = i >= kRounds;
    SqliteIssuanceStore* stores[2] = {one.get(), shared ? one.get() : two.get()};
    std::atomic<int> ready{0};
    Result<BootstrapToken> results[2] = {hwca::fail(ErrorKind::internal, "not run"),
                                         hwca::fail(ErrorKind::internal, "not run")};
    auto claim = [&](int k) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      results[k] =
          stores[k]->claim_token(made[i].token.id, made[i].token.node, made[i].hash, kNow + k);
    };
    std::thread t0(claim, 0), t1(claim, 1);
    t0.join();
    t1.join();
    const int wins = (results[0] ? 1 : 0) + (results[1] ? 1 : 0);
    ASSERT_EQ(wins, 1) << "round " << i << (shared ? " (one object)" : " (two objects)");
    const int loser = results[0] ? 1 : 0;
    EXPECT_EQ(results[loser].error().kind, ErrorKind::auth);
    EXPECT_EQ(results[loser].error().message,
              "bootstrap token '" + made[i].token.id + "' was already used");
    const int64_t won_at = kNow + (1 - loser);
    auto listed = setup->tokens();
    ASSERT_TRUE(listed);
    auto it = std::find_if(listed->begin(), listed->end(),
                           [&](const BootstrapToken& t) { return t.id == made[i].token.id; });
    ASSERT_NE(it, listed->end());
    EXPECT_EQ(it->used_at, won_at);
    auto rec = setup->node(made[i].token.node);
    ASSERT_TRUE(rec && rec->has_value());
    EXPECT_EQ((*rec)->enrolled_at, won_at);
  }
}

TEST_F(NodeRegistryTest, AVersion1DatabaseIsUpgradedWithItsRowsKept) {
  write_v1_file();
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    auto old = store->find("root", "0a1b");
    ASSERT_TRUE(old && old->has_value());
    EXPECT_EQ((*old)->subject, "CN=old.example");
    EXPECT_EQ((*old)->sans, (std::vector<std::string>{"DNS:old.example"}));
    EXPECT_TRUE((*old)->revoked);
    EXPECT_EQ((*old)->revocation_reason, 1);
    EXPECT_EQ(*store->next_crl_number("root"), 8u);
    EXPECT_TRUE(store->tokens()->empty());
    Made m = make("node-a");
    ASSERT_TRUE(store->add_token(m.token, m.hash));
    EXPECT_TRUE(store->claim_token(m.token.id, "node-a", m.hash, kNow));
  }
  EXPECT_EQ(user_version(path_), 5);
  auto again = open_store();
  EXPECT_EQ(again->tokens()->size(), 1u);
  EXPECT_TRUE(again->node("node-a")->has_value());
  EXPECT_EQ(again->list(std::nullopt, std::nullopt)->size(), 1u);
}

// Several processes opening a version-1 file at once: each succeeds, one upgrade happens.
TEST_F(NodeRegistryTest, ConcurrentOpenersUpgradeOnce) {
  write_v1_file();
  std::vector<pid_t> pids;
  for (int c = 0; c < 4; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = SqliteIssuanceStore::open(path_);
      if (!s) std::fprintf(stderr, "%s\n", s.error().message.c_str());
      Made m = make("node-" + std::to_string(c));
      ::_exit(s && (*s)->add_token(m.token, m.hash) ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(user_version(path_), 5);
  auto store = open_store();
  EXPECT_EQ(store->tokens()->size(), 4u);
  EXPECT_TRUE(store->find("root", "0a1b")->has_value());
}

TEST_F(NodeRegistryTest, AVersion1DatabaseOpenedReadOnlyStaysAndReadsEmpty) {
  write_v1_file();
  {
    auto store = open_store(/*read_only=*/true);
    ASSERT_TRUE(store);
    auto tokens = store->tokens();
    ASSERT_TRUE(tokens) << tokens.error().message;
    EXPECT_TRUE(tokens->empty());
    auto rec = store->node("node-a");
    ASSERT_TRUE(rec) << rec.error().message;
    EXPECT_FALSE(rec->has_value());
    EXPECT_TRUE(store->find("root", "0a1b")->has_value());
    Made m = make("node-a");
    auto add = store->add_token(m.token, m.hash);
    ASSERT_FALSE(add);
    EXPECT_EQ(add.error().kind, ErrorKind::io);
    EXPECT_NE(add.error().message.find("read-only"), std::string::npos) << add.error().message;
    auto claim = store->claim_token(m.token.id, "node-a", m.hash, kNow);
    ASSERT_FALSE(claim);
    EXPECT_EQ(claim.error().kind, ErrorKind::io);
  }
  EXPECT_EQ(user_version(path_), 1);
  open_store().reset();
  EXPECT_EQ(user_version(path_), 5);
}

TEST_F(NodeRegistryTest, ANewerDatabaseIsRefused) {
  open_store().reset();
  EXPECT_EQ(user_version(path_), 5);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 6", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  for (bool read_only : {false, true}) {
    auto s = SqliteIssuanceStore::open(path_, {.read_only = read_only});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().kind, ErrorKind::usage);
    EXPECT_EQ(s.error().message, "issuance database " + path_ +
                                     " has schema version 6; this hwca knows versions up to 5: "
                                     "use a newer hwca");
  }
  EXPECT_EQ(user_version(path_), 6);
}

}  // namespace
