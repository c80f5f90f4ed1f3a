// The node registry's contract (src/ca/node_registry.hpp), run against both stores: SQLite
// (a file) and PostgreSQL (a private server the tests start, support/postgres.hpp). Tokens
// are added, listed and revoked; malformed tokens are refused; every refused claim says why
// and changes nothing; a token is valid until just before its expiry; a claim registers the
// node, and giving the token back restores what the node had; of two concurrent claims of
// one token exactly one wins. PostgreSQL's tables are read too: the hash of a token's text is
// kept, never the text. What only a file can do (schema version 1 files upgraded, read-only
// old files, newer files refused, the text nowhere in the file) is in
// tests/unit/node_registry_test.cpp.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ca/database.hpp"
#include "common/text.hpp"
#include "store/store_backends.hpp"
#include "support/store_records.hpp"

namespace {

using hwca::ErrorKind;
using hwca::Result;
using namespace hwca::ca;
using namespace hwca::test::bootstrap;

class NodeRegistryContract : public hwca::test::StoreBackendTest {
 protected:
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

TEST_P(NodeRegistryContract, TokensAreAddedListedInOrderAndRevoked) {
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

TEST_P(NodeRegistryContract, MalformedTokensAreRefusedAndNothingIsStored) {
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

TEST_P(NodeRegistryContract, EveryRefusedClaimSaysWhyAndChangesNothing) {
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

TEST_P(NodeRegistryContract, ATokenIsValidUntilJustBeforeItsExpiry) {
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

TEST_P(NodeRegistryContract, AClaimRegistersTheNodeWithTheTokensAddresses) {
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

TEST_P(NodeRegistryContract, UnclaimGivesTheTokenBackAndRestoresTheRegistration) {
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
// (so two connections, as two processes would: two SQLite handles, two PostgreSQL
// sessions), and through one shared object.
TEST_P(NodeRegistryContract, OfTwoConcurrentClaimsExactlyOneWins) {
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
    Database* stores[2] = {one.get(), shared ? one.get() : two.get()};
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

INSTANTIATE_STORE_BACKENDS(NodeRegistryContract);

// PostgreSQL's counterpart of the SQLite file's check (tests/unit/node_registry_test.cpp):
// bootstrap_tokens.secret_sha256 holds the 32-byte hash of the token's text, and no column
// of any table holds the text, nor its bytes.
class NodeRegistryInPostgres : public hwca::test::StoreBackendTest {};

TEST_P(NodeRegistryInPostgres, TheDatabaseHoldsTheHashNotTheText) {
  Made m = make("node-a");
  {
    auto store = open_store();
    ASSERT_TRUE(store->add_token(m.token, m.hash));
  }
  const std::string secret = m.text.substr(7);
  // As a bytea column's text would show the text's bytes ("\x" then lower-case hex).
  const std::string secret_hex =
      hwca::hex_text(reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(target_.c_str()), PQfinish);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  auto query = [&](const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql.c_str()), PQclear);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(conn.get());
    return r;
  };
  auto hash = query("SELECT encode(secret_sha256, 'hex') FROM bootstrap_tokens");
  ASSERT_EQ(PQntuples(hash.get()), 1);
  EXPECT_EQ(PQgetvalue(hash.get(), 0, 0), hwca::hex_text(m.hash.data(), m.hash.size()));

  // Every row of every table of the store, each as one text (bytea columns as hex).
  auto tables = query(
      "SELECT quote_ident(table_name) FROM information_schema.tables "
      "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'");
  ASSERT_GE(PQntuples(tables.get()), 1);
  bool token_table_read = false;
  for (int i = 0; i < PQntuples(tables.get()); ++i) {
    const std::string table = PQgetvalue(tables.get(), i, 0);
    auto rows = query("SELECT t::text FROM " + table + " AS t");
    for (int k = 0; k < PQntuples(rows.get()); ++k) {
      const std::string row = PQgetvalue(rows.get(), k, 0);
      EXPECT_EQ(row.find(secret), std::string::npos) << table << ": " << row;
      EXPECT_EQ(row.find(secret_hex), std::string::npos) << table << ": " << row;
      if (table == "bootstrap_tokens") token_table_read = true;
    }
  }
  EXPECT_TRUE(token_table_read);
}

INSTANTIATE_TEST_SUITE_P(Backends, NodeRegistryInPostgres,
                         ::testing::Values(hwca::test::StoreBackend::postgresql),
                         hwca::test::store_backend_name);

}  // namespace
