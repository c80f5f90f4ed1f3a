// The issuance database's contract (src/ca/issuance_store.hpp), run against both stores:
// SQLite (a file) and PostgreSQL (a private server the tests start, support/postgres.hpp).
// Records survive a process that dies without closing, batches are all or nothing, several
// processes write without losing rows, revocation and CRL numbers behave alike. What only
// a file can do (modes, read-only folders, damaged pages) is in
// tests/unit/sqlite_issuance_store_test.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "ca/database.hpp"
#include "store/store_backends.hpp"
#include "support/child_process.hpp"
#include "support/store_records.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::IssuedCert;
using hwca::ca::open_database;
using hwca::test::in_child;
using hwca::test::issuance::cert;
using hwca::test::issuance::hex_serial;

class IssuanceStoreContract : public hwca::test::StoreBackendTest {};

TEST_P(IssuanceStoreContract, EveryFieldRoundTrips) {
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

TEST_P(IssuanceStoreContract, BatchWithARepeatedSerialRecordsNothing) {
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

// What the texts of a batch may hold and a store must give back as it was (PostgreSQL's
// sends each column as one array literal): quotes, backslashes, braces, commas, a text
// that reads NULL, the empty one.
TEST_P(IssuanceStoreContract, TextsWithQuotesAndBracesComeBackAsTheyWere) {
  auto store = open_store();
  IssuedCert a = cert("root", "0a");
  a.subject = R"(CN="quoted" \back\slash {brace},O=a\, b)";
  a.requester = "NULL";
  a.profile = "";
  a.sans = {R"(DNS:"}{")"};
  IssuedCert b = cert("root", "0b");
  b.requester = R"(\)";
  b.renewed_from = "0a";
  ASSERT_TRUE(store->record({a, b}));
  for (const IssuedCert& want : {a, b}) {
    auto got = store->find("root", want.serial);
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, want);
  }
}

// More rows than one statement takes (PostgreSQL's store sends a batch in chunks): all or
// nothing still, and the serial used already is the one named.
TEST_P(IssuanceStoreContract, ABatchOfManyChunksIsOneUnit) {
  using hwca::test::issuance::hex_serial;
  auto store = open_store();
  ASSERT_TRUE(store->record({cert("root", hex_serial(1100))}));
  std::vector<hwca::ca::IssuedCert> batch;
  for (int n = 0; n < 1200; ++n) batch.push_back(cert("root", hex_serial(n)));
  auto refused = store->record(batch);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::conflict);
  EXPECT_NE(refused.error().message.find(hex_serial(1100)), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(*store->serial_exists("root", hex_serial(0)));  // the first chunk rolled back
  batch.erase(batch.begin() + 1100);
  ASSERT_TRUE(store->record(batch));
  auto all = store->list(std::string("root"), std::nullopt);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1200u);
}

TEST_P(IssuanceStoreContract, MalformedCertificatesAreRefused) {
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

TEST_P(IssuanceStoreContract, SerialExistsPerCa) {
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

TEST_P(IssuanceStoreContract, ListFiltersByCaAndExpiryInNotAfterOrder) {
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

TEST_P(IssuanceStoreContract, RevokeOnceWithAValidReason) {
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

TEST_P(IssuanceStoreContract, CrlNumbersCountPerCaAndSurviveReopening) {
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

TEST_P(IssuanceStoreContract, OnlyTheLastCrlNumberTakenIsGivenBack) {
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

TEST_P(IssuanceStoreContract, ARecordSurvivesAProcessThatNeverCloses) {
  open_store().reset();
  std::string child = in_child([&]() -> std::string {
    auto s = open_database(target_, {});
    if (!s) return s.error().message;
    if (auto r = (*s)->record({cert("root", "0d")}); !r) return r.error().message;
    if (!(*s)->next_crl_number("root")) return "crl number";
    ::_exit(0);  // no destructor: only what was committed (synced) has it
  });
  EXPECT_EQ(child, "");
  auto store = open_store();
  auto found = store->find("0d");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, cert("root", "0d"));
  EXPECT_EQ(*store->next_crl_number("root"), 2u);
}

TEST_P(IssuanceStoreContract, ConcurrentWritersLoseNothing) {
  open_store().reset();  // no connection is open across fork()
  constexpr int kChildren = 4, kEach = 50;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = open_database(target_, {});
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
  EXPECT_EQ(hwca::test::failed_children(pids), 0);
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

TEST_P(IssuanceStoreContract, FirstOpensRacingCreateOneSchema) {
  std::vector<pid_t> pids;
  for (int c = 0; c < 4; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = open_database(target_, {});
      if (!s) std::fprintf(stderr, "%s\n", s.error().message.c_str());
      ::_exit(s && (*s)->record({cert("root", hex_serial(c))}) ? 0 : 1);
    }
    pids.push_back(pid);
  }
  EXPECT_EQ(hwca::test::failed_children(pids), 0);
  EXPECT_EQ(open_store()->list(std::nullopt, std::nullopt)->size(), 4u);
}

TEST_P(IssuanceStoreContract, AReservedSerialIsTakenOnce) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto first = store->reserve_serials("root", {"0a", "0b"});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, (std::vector<std::string>{"0a", "0b"}));
  auto again = store->reserve_serials("root", {"0b", "0c"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, std::vector<std::string>{"0c"});  // 0b is taken
  ASSERT_TRUE(store->record({cert("root", "0d")}));   // recorded without a reservation
  EXPECT_EQ(*store->reserve_serials("root", {"0d", "0e"}), std::vector<std::string>{"0e"});
  EXPECT_EQ(*store->reserve_serials("sub", {"0a"}), std::vector<std::string>{"0a"});  // per CA
  store.reset();
  store = open_store();  // durable
  EXPECT_EQ(store->reserve_serials("root", {"0a", "0c", "0e"})->size(), 0u);
  for (const std::string bad : {"0A", "abc", ""}) {
    auto refused = store->reserve_serials("root", {bad});
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().kind, ErrorKind::usage);
  }
  EXPECT_FALSE(store->reserve_serials("", {"01"}));
}

// Four processes reserve the same serials at once, in different orders: each serial goes to
// exactly one of them.
TEST_P(IssuanceStoreContract, ProcessesRacingForSerialsNeverShareOne) {
  open_store().reset();  // the schema; no connection open across fork()
  constexpr int kChildren = 4, kSerials = 60, kBatch = 6;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = open_database(target_, {});
      if (!s) ::_exit(2);
      std::string mine;
      for (int b = 0; b < kSerials / kBatch; ++b) {
        std::vector<std::string> batch;
        for (int i = 0; i < kBatch; ++i) {
          // Child c walks the batches from its own starting point.
          int n = ((b + c * 3) % (kSerials / kBatch)) * kBatch + i;
          batch.push_back(hex_serial(n));
        }
        auto taken = (*s)->reserve_serials("root", batch);
        if (!taken) ::_exit(1);
        for (const auto& t : *taken) mine += t + "\n";
      }
      std::FILE* f = std::fopen((tmp_.file("child" + std::to_string(c))).c_str(), "w");
      if (f == nullptr) ::_exit(3);
      std::fputs(mine.c_str(), f);
      std::fclose(f);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  ASSERT_EQ(hwca::test::failed_children(pids), 0);
  std::map<std::string, int> owners;
  for (int c = 0; c < kChildren; ++c) {
    std::FILE* f = std::fopen((tmp_.file("child" + std::to_string(c))).c_str(), "r");
    ASSERT_NE(f, nullptr);
    char line[64];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      std::string serial(line);
      serial.pop_back();
      ++owners[serial];
    }
    std::fclose(f);
  }
  EXPECT_EQ(owners.size(), static_cast<size_t>(kSerials));
  for (const auto& [serial, n] : owners) EXPECT_EQ(n, 1) << serial;
}

INSTANTIATE_STORE_BACKENDS(IssuanceStoreContract);

}  // namespace
