// Unit tests for the TPM registry in the issuance database (tpm_registry.hpp, schema versions
// 4 and 5): one TPM per node and one node per EK, imports all or nothing, unregistering, EK
// roots, a node's addresses, the attestation columns of certificates, holds_records, and
// version-3 and version-4 databases upgraded with their rows kept (read-only, a version-3
// one reads as an empty registry, a version-4 one as TPMs without addresses).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "ca/sqlite_issuance_store.hpp"
#include "support/temp_dir.hpp"
#include "unit/issuance_schema_fixtures.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::EkRoot;
using hwca::ca::IssuedCert;
using hwca::ca::NodeTpm;
using hwca::ca::SqliteIssuanceStore;
namespace test = hwca::test;
using test::user_version;

// A certificate of a version-3 file, with its lineage.
const char* const kV3Row = R"sql(
INSERT INTO certs (ca, serial, profile, subject, not_before, not_after, requester, der,
  recorded_at, renewed_from, spki_sha256) VALUES ('root', '0a', 'kubelet-client', 'CN=x',
  1700000000, 2000000000, 'est:n1', x'3003020101', 1700000001, '09',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
)sql";

std::string hex64(char c) { return std::string(64, c); }

NodeTpm tpm(const std::string& node, char ek, const char* kind = "certificate") {
  NodeTpm t;
  t.node = node;
  t.ek_sha256 = hex64(ek);
  t.ek_kind = kind;
  t.ek_der = {0x30, 0x03, 0x02, 0x01, static_cast<uint8_t>(ek)};
  t.registered_at = 1700000000;
  t.registered_by = "cli:uid=0";
  return t;
}

EkRoot root(char c, bool anchor, int64_t at) {
  EkRoot r;
  r.sha256 = hex64(c);
  r.subject = std::string("CN=root ") + c;
  r.anchor = anchor;
  r.der = {0x30, 0x00, static_cast<uint8_t>(c)};
  r.added_at = at;
  r.added_by = "cli:uid=0";
  return r;
}

std::vector<std::string> nodes_of(const std::vector<NodeTpm>& tpms) {
  std::vector<std::string> out;
  for (const auto& t : tpms) out.push_back(t.node);
  return out;
}

class TpmRegistryStore : public ::testing::Test {
 protected:
  test::TempDir tmp_{"hwca-tpm-registry"};
  std::string path_ = tmp_.file("issuance.db");

  std::unique_ptr<SqliteIssuanceStore> open_store(bool read_only = false) {
    auto s = SqliteIssuanceStore::open(path_, {.read_only = read_only});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
};

TEST_F(TpmRegistryStore, ATpmIsRegisteredReadAndUnregistered) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_FALSE(*store->holds_records());
  ASSERT_TRUE(store->register_tpm(tpm("worker-2", 'b', "public-key")));
  ASSERT_TRUE(store->register_tpm(tpm("worker-1", 'a')));
  EXPECT_TRUE(*store->holds_records());
  auto one = store->tpm("worker-1");
  ASSERT_TRUE(one && *one);
  EXPECT_EQ(**one, tpm("worker-1", 'a'));
  EXPECT_FALSE(*store->tpm("worker-3"));
  EXPECT_EQ(nodes_of(*store->tpms()), (std::vector<std::string>{"worker-1", "worker-2"}));

  ASSERT_TRUE(store->unregister_tpm("worker-1"));
  EXPECT_FALSE(*store->tpm("worker-1"));
  auto again = store->unregister_tpm("worker-1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::not_found);
  // Once unregistered, the node may register another TPM, and its EK another node.
  EXPECT_TRUE(store->register_tpm(tpm("worker-3", 'a')));
  EXPECT_TRUE(store->register_tpm(tpm("worker-1", 'c')));
}

TEST_F(TpmRegistryStore, ASecondTpmForANodeOrAnEkForASecondNodeIsAConflict) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->register_tpm(tpm("worker-1", 'a')));
  auto same_node = store->register_tpm(tpm("worker-1", 'b'));
  ASSERT_FALSE(same_node);
  EXPECT_EQ(same_node.error().kind, ErrorKind::conflict);
  EXPECT_NE(same_node.error().message.find("node 'worker-1' already has a TPM"), std::string::npos)
      << same_node.error().message;
  auto same_ek = store->register_tpm(tpm("worker-2", 'a'));
  ASSERT_FALSE(same_ek);
  EXPECT_EQ(same_ek.error().kind, ErrorKind::conflict);
  EXPECT_NE(same_ek.error().message.find("already registered for node 'worker-1'"),
            std::string::npos)
      << same_ek.error().message;
  EXPECT_EQ(nodes_of(*store->tpms()), std::vector<std::string>{"worker-1"});
  EXPECT_EQ((*store->tpm("worker-1"))->ek_sha256, hex64('a'));
}

TEST_F(TpmRegistryStore, BadEntriesAreRefused) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto bad_name = tpm("Worker_1", 'a');
  auto bad_hash = tpm("worker-1", 'a');
  bad_hash.ek_sha256 = hex64('A');
  auto bad_kind = tpm("worker-1", 'a', "key");
  auto no_der = tpm("worker-1", 'a');
  no_der.ek_der.clear();
  auto bad_address = tpm("worker-1", 'a');
  bad_address.addresses = {"10.0.0.5", "fd00:0::5"};  // not canonical: fd00::5
  for (const auto& t : {bad_name, bad_hash, bad_kind, no_der, bad_address}) {
    auto r = store->register_tpm(t);
    ASSERT_FALSE(r) << t.node;
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
  }
  EXPECT_TRUE(store->tpms()->empty());
}

// An import is one transaction: a conflict anywhere (with the database, or within the batch)
// leaves nothing stored.
TEST_F(TpmRegistryStore, AnImportIsAllOrNothing) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->register_tpm(tpm("existing", 'e')));
  auto clash =
      store->register_tpms({tpm("worker-1", 'a'), tpm("worker-2", 'b'), tpm("worker-3", 'e')});
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().kind, ErrorKind::conflict);
  EXPECT_NE(clash.error().message.find("nothing was registered"), std::string::npos)
      << clash.error().message;
  EXPECT_EQ(nodes_of(*store->tpms()), std::vector<std::string>{"existing"});

  EXPECT_FALSE(store->register_tpms({tpm("worker-1", 'a'), tpm("worker-1", 'b')}));
  EXPECT_FALSE(store->register_tpms({tpm("worker-1", 'a'), tpm("worker-2", 'a')}));
  EXPECT_EQ(nodes_of(*store->tpms()), std::vector<std::string>{"existing"});

  ASSERT_TRUE(store->register_tpms({tpm("worker-1", 'a'), tpm("worker-2", 'b')}));
  EXPECT_EQ(nodes_of(*store->tpms()),
            (std::vector<std::string>{"existing", "worker-1", "worker-2"}));
}

TEST_F(TpmRegistryStore, EkRootsAreAddedListedAndRemoved) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->add_ek_root(root('b', false, 20)));
  EXPECT_TRUE(*store->holds_records());
  ASSERT_TRUE(store->add_ek_root(root('a', true, 10)));
  auto dup = store->add_ek_root(root('a', true, 30));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, ErrorKind::conflict);
  auto roots = store->ek_roots();
  ASSERT_TRUE(roots);
  ASSERT_EQ(roots->size(), 2u);
  EXPECT_EQ((*roots)[0], root('a', true, 10));
  EXPECT_EQ((*roots)[1], root('b', false, 20));
  ASSERT_TRUE(store->remove_ek_root(hex64('a')));
  auto gone = store->remove_ek_root(hex64('a'));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::not_found);
  EXPECT_EQ(store->ek_roots()->size(), 1u);
}

TEST_F(TpmRegistryStore, AttestationColumnsAreKeptWithTheCertificate) {
  auto store = open_store();
  ASSERT_TRUE(store);
  IssuedCert c;
  c.ca = "root";
  c.serial = "01";
  c.profile = "kubelet-client";
  c.subject = "CN=system:node:n1,O=system:nodes";
  c.requester = "est:n1";
  c.der = {0x30, 0x03, 0x02, 0x01, 0x01};
  IssuedCert plain = c;
  plain.serial = "02";
  c.attest_ek_sha256 = hex64('e');
  c.attest_ak_name = "000b" + hex64('1');
  c.attest_key_name = "000b" + hex64('2');
  ASSERT_TRUE(store->record({c, plain}));
  auto found = store->find("root", "01");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->attest_ek_sha256, c.attest_ek_sha256);
  EXPECT_EQ((*found)->attest_ak_name, c.attest_ak_name);
  EXPECT_EQ((*found)->attest_key_name, c.attest_key_name);
  EXPECT_EQ((*store->find("root", "02"))->attest_ek_sha256, "");

  IssuedCert upper = c;
  upper.serial = "03";
  upper.attest_ak_name = "000B" + hex64('1');
  EXPECT_FALSE(store->record({upper}));
}

// A version-3 file read-only: its TPM registry reads as empty and its certificates have no
// attestation; opened writable it becomes the current version with its rows kept.
TEST_F(TpmRegistryStore, AVersion3DatabaseIsUpgradedWithItsRowsKept) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    for (const char* sql : {test::kSchemaV2Fixture, test::kSchemaV3FromV2, kV3Row}) {
      ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    }
    sqlite3_close(db);
  }
  ASSERT_EQ(user_version(path_), 3);
  {
    auto ro = open_store(/*read_only=*/true);
    ASSERT_TRUE(ro);
    auto tpms = ro->tpms();
    ASSERT_TRUE(tpms) << tpms.error().message;
    EXPECT_TRUE(tpms->empty());
    EXPECT_FALSE(ro->tpm("worker-1")->has_value());
    EXPECT_TRUE(ro->ek_roots()->empty());
    EXPECT_TRUE(*ro->holds_records());  // its certificate
    auto one = ro->find("root", "0a");
    ASSERT_TRUE(one && *one) << (one ? "" : one.error().message);
    EXPECT_EQ((*one)->renewed_from, "09");
    EXPECT_EQ((*one)->attest_ek_sha256, "");
    EXPECT_EQ(ro->renewals("root", "09")->size(), 1u);
    EXPECT_FALSE(ro->register_tpm(tpm("worker-1", 'a')));
  }
  ASSERT_EQ(user_version(path_), 3);

  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(user_version(path_), 5);
  auto kept = store->find("root", "0a");
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->renewed_from, "09");
  EXPECT_EQ((*kept)->spki_sha256, hex64('a'));
  EXPECT_EQ((*kept)->der, (std::vector<uint8_t>{0x30, 0x03, 0x02, 0x01, 0x01}));
  EXPECT_EQ((*kept)->attest_ek_sha256, "");
  ASSERT_TRUE(store->register_tpm(tpm("worker-1", 'a')));
  EXPECT_EQ(nodes_of(*store->tpms()), std::vector<std::string>{"worker-1"});
}

// A node's addresses ('hwca node register --ip') are kept with its TPM, in order.
TEST_F(TpmRegistryStore, AddressesAreKeptWithTheTpm) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto with = tpm("worker-1", 'a');
  with.addresses = {"10.0.0.5", "fd00::5"};
  ASSERT_TRUE(store->register_tpms({with, tpm("worker-2", 'b')}));
  EXPECT_EQ(**store->tpm("worker-1"), with);
  EXPECT_TRUE((*store->tpm("worker-2"))->addresses.empty());
  auto all = store->tpms();
  ASSERT_TRUE(all && all->size() == 2u);
  EXPECT_EQ((*all)[0].addresses, with.addresses);
  store.reset();
  auto ro = open_store(/*read_only=*/true);
  ASSERT_TRUE(ro);
  EXPECT_EQ((*ro->tpm("worker-1"))->addresses, with.addresses);
}

// A version-4 file (a TPM registry without addresses): read-only, its TPMs read with none;
// opened writable it becomes version 5, its TPMs kept with none, and takes addresses.
TEST_F(TpmRegistryStore, AVersion4DatabaseIsUpgradedToAddresses) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const char* row =
        "INSERT INTO node_tpms VALUES ('worker-1', "
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'certificate', "
        "x'3003020161', 1700000000, 'cli:uid=0')";
    for (const char* sql :
         {test::kSchemaV2Fixture, test::kSchemaV3FromV2, test::kSchemaV4FromV3, row}) {
      ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    }
    sqlite3_close(db);
  }
  ASSERT_EQ(user_version(path_), 4);
  {
    auto ro = open_store(/*read_only=*/true);
    ASSERT_TRUE(ro);
    auto one = ro->tpm("worker-1");
    ASSERT_TRUE(one && *one) << (one ? "" : one.error().message);
    EXPECT_EQ(**one, tpm("worker-1", 'a'));
    auto all = ro->tpms();
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(nodes_of(*all), std::vector<std::string>{"worker-1"});
  }
  ASSERT_EQ(user_version(path_), 4);
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(user_version(path_), 5);
  EXPECT_EQ(**store->tpm("worker-1"), tpm("worker-1", 'a'));
  auto with = tpm("worker-2", 'b');
  with.addresses = {"10.0.0.7"};
  ASSERT_TRUE(store->register_tpm(with));
  EXPECT_EQ(**store->tpm("worker-2"), with);
}

// holds_records() counts the registry on its own (the audit log must account for it).
TEST_F(TpmRegistryStore, ARegisteredTpmAloneIsARecord) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->register_tpm(tpm("worker-1", 'a')));
  EXPECT_TRUE(*store->holds_records());
  ASSERT_TRUE(store->unregister_tpm("worker-1"));
  EXPECT_FALSE(*store->holds_records());
}

}  // namespace
