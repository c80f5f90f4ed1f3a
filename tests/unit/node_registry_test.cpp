// Unit tests for what only SqliteIssuanceStore does with the node registry
// (src/ca/node_registry.hpp), a database in a file: schema version 1 files are upgraded
// (rows kept, by one of several openers), read as empty when opened read-only, and newer
// files are refused; the token's text is nowhere in the file or its WAL. What every store
// does (tokens added, listed and revoked; refused claims; a claim registers the node;
// unclaim; two concurrent claims) is in tests/store/node_registry_contract_test.cpp, run
// against SQLite and PostgreSQL.
#include "ca/node_registry.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "ca/sqlite_issuance_store.hpp"
#include "support/store_records.hpp"
#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using namespace hwca::ca;
using namespace hwca::test::bootstrap;

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
};

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
  EXPECT_EQ(user_version(path_), 6);
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
  EXPECT_EQ(user_version(path_), 6);
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
  EXPECT_EQ(user_version(path_), 6);
}

TEST_F(NodeRegistryTest, ANewerDatabaseIsRefused) {
  open_store().reset();
  EXPECT_EQ(user_version(path_), 6);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  for (bool read_only : {false, true}) {
    auto s = SqliteIssuanceStore::open(path_, {.read_only = read_only});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().kind, ErrorKind::usage);
    EXPECT_EQ(s.error().message, "issuance database " + path_ +
                                     " has schema version 7; this hwca knows versions up to 6: "
                                     "use a newer hwca");
  }
  EXPECT_EQ(user_version(path_), 7);
}

}  // namespace
