// The TPM registry's contract (src/ca/tpm_registry.hpp), run against both stores: SQLite (a
// file) and PostgreSQL (a private server the tests start, support/postgres.hpp). One TPM per
// node and one node per EK, imports all or nothing, unregistering, EK roots, a node's
// addresses, the attestation columns of certificates, and holds_records. What only a file
// has (version-3 and version-4 databases upgraded with their rows kept) is in
// tests/unit/tpm_registry_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ca/database.hpp"
#include "store/store_backends.hpp"
#include "support/store_records.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::EkRoot;
using hwca::ca::IssuedCert;
using namespace hwca::test::tpm_registry;

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

class TpmRegistryContract : public hwca::test::StoreBackendTest {};

TEST_P(TpmRegistryContract, ATpmIsRegisteredReadAndUnregistered) {
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

TEST_P(TpmRegistryContract, ASecondTpmForANodeOrAnEkForASecondNodeIsAConflict) {
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

TEST_P(TpmRegistryContract, BadEntriesAreRefused) {
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
TEST_P(TpmRegistryContract, AnImportIsAllOrNothing) {
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

TEST_P(TpmRegistryContract, EkRootsAreAddedListedAndRemoved) {
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

TEST_P(TpmRegistryContract, AttestationColumnsAreKeptWithTheCertificate) {
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

// A node's addresses ('hwca node register --ip') are kept with its TPM, in order.
TEST_P(TpmRegistryContract, AddressesAreKeptWithTheTpm) {
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

// holds_records() counts the registry on its own (the audit log must account for it).
TEST_P(TpmRegistryContract, ARegisteredTpmAloneIsARecord) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->register_tpm(tpm("worker-1", 'a')));
  EXPECT_TRUE(*store->holds_records());
  ASSERT_TRUE(store->unregister_tpm("worker-1"));
  EXPECT_FALSE(*store->holds_records());
}

INSTANTIATE_STORE_BACKENDS(TpmRegistryContract);

}  // namespace
