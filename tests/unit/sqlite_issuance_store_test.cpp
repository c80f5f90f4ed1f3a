// Unit tests for what only src/ca/sqlite_issuance_store.hpp does, a database in a file:
// bounded waits for another process's lock, read-only files and folders, corrupt and foreign
// files give one clear line, file modes. What every store does is in
// tests/store/issuance_store_contract_test.cpp, run against SQLite and PostgreSQL.
#include "ca/sqlite_issuance_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "support/child_process.hpp"
#include "support/store_records.hpp"
#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::IssuedCert;
using hwca::ca::SqliteIssuanceStore;
using hwca::test::issuance::cert;
using hwca::test::issuance::hex_serial;

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

using hwca::test::in_child;
using hwca::test::obey_file_modes;

class SqliteIssuanceStoreTest : public ::testing::Test {
 protected:
  hwca::test::TempDir tmp_{"hwca-issuance"};
  std::string dir_ = tmp_.path();
  std::string path_ = tmp_.file("issued.db");

  std::unique_ptr<SqliteIssuanceStore> open_store() {
    auto s = SqliteIssuanceStore::open(path_);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  void write_file(const std::string& bytes) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  // Expect a failed open with this kind, naming the file, on one line.
  void expect_open_error(ErrorKind kind, const std::string& words) {
    auto s = SqliteIssuanceStore::open(path_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().kind, kind) << s.error().message;
    EXPECT_NE(s.error().message.find(path_), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find(words), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << s.error().message;
  }
};

// A writer that holds the lock longer than busy_timeout_ms makes a write fail, not hang.
TEST_F(SqliteIssuanceStoreTest, WaitingForAnotherWriterIsBounded) {
  auto store = SqliteIssuanceStore::open(path_, {.read_only = false, .busy_timeout_ms = 300});
  ASSERT_TRUE(store) << store.error().message;
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto start = std::chrono::steady_clock::now();
  auto blocked = (*store)->record({cert("root", "01")});
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().kind, ErrorKind::io);
  EXPECT_NE(blocked.error().message.find("locked by another process"), std::string::npos)
      << blocked.error().message;
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(3));
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE((*store)->record({cert("root", "01")}));
}

// chmod 0400 on the file and 0500 on its folder. As root, chmod does not bind, so the check
// runs in a child that has dropped its capabilities (root without CAP_DAC_OVERRIDE obeys
// file modes like anyone else); if capset() is refused the test is skipped.
TEST_F(SqliteIssuanceStoreTest, AReadOnlyFileAndFolderRefuseWritesAndStillRead) {
  ASSERT_TRUE(open_store()->record({cert("root", "01")}));
  ASSERT_EQ(::chmod(path_.c_str(), 0400), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0500), 0);
  std::string child = in_child([&]() -> std::string {
    if (!obey_file_modes()) return "SKIP";
    if (::open(path_.c_str(), O_WRONLY) >= 0) return "the file is still writable";
    auto s = SqliteIssuanceStore::open(path_);
    if (!s) return "open: " + s.error().message;
    auto found = (*s)->find("01");
    if (!found || !found->has_value()) return "cannot read the stored certificate";
    auto r = (*s)->record({cert("root", "02")});
    if (r) return "record succeeded";
    if (r.error().message !=
        "issuance database " + path_ + " is read-only (the file is not writable)")
      return "record: " + r.error().message;
    if ((*s)->revoke("root", "01", 1, 1)) return "revoke succeeded";
    if ((*s)->next_crl_number("root")) return "next_crl_number succeeded";
    return "";
  });
  if (child == "SKIP") GTEST_SKIP() << "running as root and capset() is not allowed";
  EXPECT_EQ(child, "");
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  auto store = open_store();
  EXPECT_EQ(store->list(std::nullopt, std::nullopt)->size(), 1u);  // nothing was recorded
  EXPECT_FALSE((*store->find("01"))->revoked);
  EXPECT_EQ(*store->next_crl_number("root"), 1u);
}

// A copy of the file alone (no -wal, no -shm) in a read-only folder cannot be read by SQLite
// in WAL mode; opening says why rather than failing later.
TEST_F(SqliteIssuanceStoreTest, AReadOnlyCopyWithoutItsWalFilesSaysWhy) {
  ASSERT_TRUE(open_store()->record({cert("root", "01")}));
  ASSERT_EQ(::unlink((path_ + "-wal").c_str()), 0);  // empty after closing: checkpointed
  ASSERT_EQ(::unlink((path_ + "-shm").c_str()), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0400), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0500), 0);
  std::string child = in_child([&]() -> std::string {
    if (!obey_file_modes()) return "SKIP";
    auto s = SqliteIssuanceStore::open(path_);
    if (s) return "opened";
    return s.error().message;
  });
  if (child == "SKIP") GTEST_SKIP() << "running as root and capset() is not allowed";
  EXPECT_EQ(child, "issuance database " + path_ +
                       " is read-only (its folder is not writable and it has no -wal and -shm "
                       "files)");
}

// The same refusal without file modes, so it runs as root too: Options::read_only.
TEST_F(SqliteIssuanceStoreTest, OpenedReadOnlyItRefusesWrites) {
  auto missing = SqliteIssuanceStore::open(path_, {.read_only = true});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);  // and it did not create the file
  ASSERT_TRUE(open_store()->record({cert("root", "01")}));
  auto s = SqliteIssuanceStore::open(path_, {.read_only = true});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(*(*s)->serial_exists("root", "01"));
  auto r = (*s)->record({cert("root", "02")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::io);
  EXPECT_EQ(r.error().message, "issuance database " + path_ + " is read-only (opened read-only)");
  EXPECT_FALSE((*s)->revoke("root", "01", 0, 1));
  EXPECT_FALSE((*s)->next_crl_number("root"));
  EXPECT_EQ(open_store()->list(std::nullopt, std::nullopt)->size(), 1u);
}

TEST_F(SqliteIssuanceStoreTest, RandomBytesAreACorruptDatabase) {
  std::mt19937 rng(42);
  std::string bytes(4096, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng());
  write_file(bytes);
  expect_open_error(ErrorKind::io, "is corrupt");
  expect_open_error(ErrorKind::io, "restore it from a backup");
}

TEST_F(SqliteIssuanceStoreTest, ADamagedPageIsFoundOnOpening) {
  {
    auto store = open_store();
    for (int batch = 0; batch < 10; ++batch) {
      std::vector<IssuedCert> certs;
      for (int i = 0; i < 30; ++i) {
        certs.push_back(cert("root", hex_serial(batch * 100 + i)));
        certs.back().der.assign(1000, static_cast<uint8_t>(i));
      }
      ASSERT_TRUE(store->record(certs));
    }
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  ASSERT_GE(st.st_size, 40 * 4096);
  int fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string junk(4096, '\x5a');
  EXPECT_EQ(::pwrite(fd, junk.data(), junk.size(), (st.st_size / 4096 / 2) * 4096), 4096);
  ::close(fd);
  expect_open_error(ErrorKind::io, "is corrupt: Page ");
}

TEST_F(SqliteIssuanceStoreTest, ATextFileIsNotAnSqliteDatabase) {
  write_file("ca:\n  root:\n    key: pkcs11:token=ca\n");
  auto s = SqliteIssuanceStore::open(path_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, path_ + " is not an SQLite database");
}

TEST_F(SqliteIssuanceStoreTest, ForeignAndNewerDatabasesAreRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  expect_open_error(ErrorKind::usage, "not an issuance database");
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE t", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  open_store().reset();
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 9", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  expect_open_error(ErrorKind::usage, "schema version 9");
}

TEST_F(SqliteIssuanceStoreTest, FilesAreCreated0600WhateverTheUmask) {
  mode_t old = ::umask(0);
  auto store = open_store();
  ::umask(old);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->record({cert("root", "01")}));
  EXPECT_EQ(mode_of(path_), 0600u);
  EXPECT_EQ(mode_of(path_ + "-wal"), 0600u);
  EXPECT_EQ(mode_of(path_ + "-shm"), 0600u);
}

TEST_F(SqliteIssuanceStoreTest, AMissingFolderIsAnError) {
  auto s = SqliteIssuanceStore::open(dir_ + "/no-such-folder/issued.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::not_found);
  EXPECT_NE(s.error().message.find("no-such-folder does not exist"), std::string::npos)
      << s.error().message;
}

}  // namespace
