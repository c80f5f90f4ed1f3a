// Unit tests for src/ca/sqlite_issuance_store.hpp: records survive a process that dies
// without closing, batches are all or nothing, several processes write without losing rows,
// and read-only, corrupt and foreign files give one clear line.
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
#include <functional>
#include <random>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::IssuedCert;
using hwca::ca::SqliteIssuanceStore;

IssuedCert cert(const std::string& ca, const std::string& serial, int64_t not_after = 2000000000) {
  IssuedCert c;
  c.ca = ca;
  c.serial = serial;
  c.profile = "server";
  c.subject = "CN=" + serial + ".example,O=Example\\, Inc.";
  c.sans = {"DNS:" + serial + ".example", "IP:10.0.0.1"};
  c.not_before = not_after - 86400;
  c.not_after = not_after;
  c.requester = "cli:uid=0";
  c.der = {0x30, 0x82, 0x00, 0xff, 0x00, 0x01};
  return c;
}

std::string hex_serial(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", n);
  return buf;
}

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

TEST_F(SqliteIssuanceStoreTest, EveryFieldRoundTrips) {
  auto store = open_store();
  ASSERT_TRUE(store);
  IssuedCert a = cert("root", "01ab");
  a.sans = {"DNS:a.example", "IP:10.0.0.1", "DNS:b.example", "email:x@a.example"};
  a.subject = "CN=Ünïcode,O=Example\\, Inc.,C=DE";
  a.der.clear();
  for (int i = 0; i < 3000; ++i) a.der.push_back(static_cast<uint8_t>(i * 7));  // NULs too
  IssuedCert b = cert("root", "02", -5);  // before 1970, and already revoked
  b.sans.clear();
  b.revoked = true;
  b.revoked_at = 1700000000;
  b.revocation_reason = 1;
  ASSERT_TRUE(store->record({a, b}));
  store.reset();

  store = open_store();  // from the file, not from a cache
  auto found_a = store->find("01AB");
  ASSERT_TRUE(found_a) << found_a.error().message;
  ASSERT_TRUE(found_a->has_value());
  EXPECT_EQ(**found_a, a);
  auto found_b = store->find("root", "02");
  ASSERT_TRUE(found_b && found_b->has_value());
  EXPECT_EQ(**found_b, b);
  auto none = store->find("03");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto bad = store->find("xyz");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
}

TEST_F(SqliteIssuanceStoreTest, BatchWithARepeatedSerialRecordsNothing) {
  auto store = open_store();
  auto twice = store->record({cert("root", "01"), cert("root", "02"), cert("root", "01")});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::conflict);
  EXPECT_NE(twice.error().message.find("01"), std::string::npos);
  EXPECT_EQ(*store->serial_exists("root", "02"), false);

  ASSERT_TRUE(store->record({cert("root", "01")}));
  auto stored = store->record({cert("root", "02"), cert("root", "03"), cert("root", "01")});
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().kind, ErrorKind::conflict);
  EXPECT_NE(stored.error().message.find("nothing was recorded"), std::string::npos);
  auto all = store->list(std::nullopt, std::nullopt);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);  // neither 02 nor 03, nor their SANs
  EXPECT_EQ((*all)[0].serial, "01");

  // The same serial from another CA is fine, but then find() needs the CA.
  ASSERT_TRUE(store->record({cert("sub", "01")}));
  auto ambiguous = store->find("01");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().kind, ErrorKind::conflict);
  EXPECT_NE(ambiguous.error().message.find("name the CA"), std::string::npos);
  auto named = store->find("sub", "01");
  ASSERT_TRUE(named && named->has_value());
  EXPECT_EQ((*named)->ca, "sub");
}

TEST_F(SqliteIssuanceStoreTest, MalformedCertificatesAreRefused) {
  auto store = open_store();
  IssuedCert no_der = cert("root", "01");
  no_der.der.clear();
  IssuedCert odd = cert("root", "abc");
  IssuedCert upper = cert("root", "AB");
  IssuedCert bad_reason = cert("root", "04");
  bad_reason.revoked = true;
  bad_reason.revocation_reason = 7;
  for (const auto& c : {no_der, odd, upper, bad_reason, cert("", "05")}) {
    auto r = store->record({cert("root", "10"), c});
    ASSERT_FALSE(r) << c.serial;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << r.error().message;
  }
  EXPECT_EQ(*store->serial_exists("root", "10"), false);
}

TEST_F(SqliteIssuanceStoreTest, SerialExistsPerCa) {
  auto store = open_store();
  ASSERT_TRUE(store->record({cert("root", "0a1b")}));
  EXPECT_EQ(*store->serial_exists("root", "0a1b"), true);
  EXPECT_EQ(*store->serial_exists("root", "0A1B"), true);
  EXPECT_EQ(*store->serial_exists("sub", "0a1b"), false);
  EXPECT_EQ(*store->serial_exists("root", "0a1c"), false);
  auto bad = store->serial_exists("root", "0g");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
}

TEST_F(SqliteIssuanceStoreTest, ListFiltersByCaAndExpiryInNotAfterOrder) {
  auto store = open_store();
  ASSERT_TRUE(
      store->record({cert("root", "05", 300), cert("sub", "04", 100), cert("root", "03", 200),
                     cert("sub", "02", 300), cert("root", "01", 400)}));
  auto serials = [](const hwca::Result<std::vector<IssuedCert>>& r) {
    std::string out;
    for (const auto& c : *r) out += c.serial + " ";
    return out;
  };
  auto all = store->list(std::nullopt, std::nullopt);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(serials(all), "04 03 02 05 01 ");  // 02 before 05: same not_after
  EXPECT_EQ((*all)[0].sans, cert("sub", "04").sans);
  EXPECT_EQ(serials(store->list("root", std::nullopt)), "03 05 01 ");
  EXPECT_EQ(serials(store->list(std::nullopt, 300)), "04 03 ");  // strictly before
  EXPECT_EQ(serials(store->list("sub", 301)), "04 02 ");
  EXPECT_EQ(serials(store->list("none", std::nullopt)), "");
}

TEST_F(SqliteIssuanceStoreTest, RevokeOnceWithAValidReason) {
  auto store = open_store();
  ASSERT_TRUE(store->record({cert("root", "01"), cert("root", "02"), cert("sub", "01")}));
  auto unknown = store->revoke("root", "09", 1, 1000);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
  for (int reason : {7, 11, -1}) {
    auto bad = store->revoke("root", "01", reason, 1000);
    ASSERT_FALSE(bad) << reason;
    EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  }
  ASSERT_TRUE(store->revoke("root", "01", 4, 1700000000));
  auto twice = store->revoke("root", "01", 1, 1700000001);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::conflict);
  EXPECT_NE(twice.error().message.find("2023-11-14T22:13:20Z"), std::string::npos)
      << twice.error().message;

  auto crl = store->revoked("root");
  ASSERT_TRUE(crl) << crl.error().message;
  ASSERT_EQ(crl->size(), 1u);
  EXPECT_EQ((*crl)[0].serial, "01");
  EXPECT_TRUE((*crl)[0].revoked);
  EXPECT_EQ((*crl)[0].revoked_at, 1700000000);
  EXPECT_EQ((*crl)[0].revocation_reason, 4);
  EXPECT_EQ(store->revoked("sub")->size(), 0u);  // the other CA's 01 is untouched
  auto found = store->find("root", "01");
  EXPECT_TRUE((*found)->revoked);
  EXPECT_FALSE((*store->find("root", "02"))->revoked);
}

TEST_F(SqliteIssuanceStoreTest, CrlNumbersCountPerCaAndSurviveReopening) {
  auto store = open_store();
  EXPECT_EQ(*store->next_crl_number("root"), 1u);
  EXPECT_EQ(*store->next_crl_number("root"), 2u);
  EXPECT_EQ(*store->next_crl_number("sub"), 1u);
  EXPECT_EQ(*store->next_crl_number("root"), 3u);
  store.reset();
  store = open_store();
  EXPECT_EQ(*store->next_crl_number("root"), 4u);
  EXPECT_EQ(*store->next_crl_number("sub"), 2u);
}

TEST_F(SqliteIssuanceStoreTest, OnlyTheLastCrlNumberTakenIsGivenBack) {
  auto store = open_store();
  EXPECT_EQ(*store->next_crl_number("root"), 1u);
  EXPECT_EQ(*store->next_crl_number("root"), 2u);
  ASSERT_TRUE(store->release_crl_number("root", 2));  // CRL #2 was never signed
  EXPECT_EQ(*store->next_crl_number("root"), 2u);
  EXPECT_EQ(*store->next_crl_number("root"), 3u);
  ASSERT_TRUE(store->release_crl_number("root", 2));  // #3 was taken since: a gap, no change
  ASSERT_TRUE(store->release_crl_number("sub", 1));   // nothing taken: no change
  store.reset();
  store = open_store();
  EXPECT_EQ(*store->next_crl_number("root"), 4u);
  EXPECT_EQ(*store->next_crl_number("sub"), 1u);
}

TEST_F(SqliteIssuanceStoreTest, ARecordSurvivesAProcessThatNeverCloses) {
  open_store().reset();
  std::string child = in_child([&]() -> std::string {
    auto s = SqliteIssuanceStore::open(path_);
    if (!s) return s.error().message;
    if (auto r = (*s)->record({cert("root", "0d")}); !r) return r.error().message;
    if (!(*s)->next_crl_number("root")) return "crl number";
    ::_exit(0);  // no destructor, no checkpoint: only the synced WAL has it
  });
  EXPECT_EQ(child, "");
  auto store = open_store();
  auto found = store->find("0d");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, cert("root", "0d"));
  EXPECT_EQ(*store->next_crl_number("root"), 2u);
}

TEST_F(SqliteIssuanceStoreTest, ConcurrentWritersLoseNothing) {
  open_store().reset();  // no connection is open across fork()
  constexpr int kChildren = 4, kEach = 50;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = SqliteIssuanceStore::open(path_);
      if (!s) ::_exit(2);
      for (int i = 0; i < kEach; ++i) {
        auto r = (*s)->record({cert("root", hex_serial(c * 1000 + i))});
        if (!r) {
          std::fprintf(stderr, "child %d: %s\n", c, r.error().message.c_str());
          ::_exit(1);
        }
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto store = open_store();
  auto all = store->list("root", std::nullopt);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), static_cast<size_t>(kChildren * kEach));
  for (int c = 0; c < kChildren; ++c) {
    for (int i = 0; i < kEach; ++i) {
      EXPECT_TRUE(*store->serial_exists("root", hex_serial(c * 1000 + i)));
    }
  }
}

TEST_F(SqliteIssuanceStoreTest, FirstOpensRacingCreateOneSchema) {
  std::vector<pid_t> pids;
  for (int c = 0; c < 4; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = SqliteIssuanceStore::open(path_);
      if (!s) std::fprintf(stderr, "%s\n", s.error().message.c_str());
      ::_exit(s && (*s)->record({cert("root", hex_serial(c))}) ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(open_store()->list(std::nullopt, std::nullopt)->size(), 4u);
}

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
