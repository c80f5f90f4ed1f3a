// What a command opens: the CA home, its issuance database, the library context.
#include "cli/session.hpp"

#include <unistd.h>

#include <cstdlib>

#include "common/text.hpp"

namespace hwca::cli {

namespace {

std::string database_option(const Context& ctx) {
  if (!ctx.database.empty()) return ctx.database;
  const char* env = std::getenv("HWCA_DATABASE");
  return env != nullptr ? env : "";
}

// Point a home at `database` (--database): written to a new home's config.yaml; a home that
// uses another database already is refused (one home, one database: 'hwca db migrate'
// moves one).
Status use_database(ca::Home& home, const std::string& database) {
  if (database.empty() || home.config().database == database) return {};
  if (auto ok = ca::check_database_target(database); !ok) {
    return fail(ErrorKind::usage, "--database: " + ok.error().message);
  }
  const ca::Config fresh;
  const bool is_new = home.config().cas.empty() && home.config().database == fresh.database &&
                      ::access(home.path(fresh.database).c_str(), F_OK) != 0;
  if (!is_new) {
    return fail(ErrorKind::usage, "the CA home " + home.dir() + " uses database " +
                                      printable(home.config().database) +
                                      " (its config.yaml), not the one --database or "
                                      "$HWCA_DATABASE names");
  }
  ca::Config config = home.config();
  config.database = database;
  return home.save(config);
}

}  // namespace

Result<Session> Session::open(const Context& ctx, Access access) {
  const std::string database = database_option(ctx);
  // A home over a shared database holds only its config.yaml: made when missing.
  const bool create = access == Access::create || ca::is_postgresql_url(database);
  auto home = ca::Home::open(ca::resolve_home(ctx.home), create);
  if (!home) return tl::unexpected(home.error());
  if (auto ok = use_database(*home, database); !ok) return tl::unexpected(ok.error());
  Session session(std::move(*home), access);
  // The CAs a shared database keeps join the home's before any command looks at them.
  if (ca::is_postgresql_url(session.home_.config().database)) {
    auto store = session.open_store();
    if (!store) return tl::unexpected(store.error());
    if (ca::CaCatalog* catalog = (*store)->catalog()) {
      auto cas = catalog->shared_cas();
      if (!cas) return tl::unexpected(cas.error());
      if (auto ok = session.home_.adopt_shared(*cas, (*store)->describe()); !ok) {
        return tl::unexpected(ok.error());
      }
      auto profiles = catalog->shared_profiles();
      if (!profiles) return tl::unexpected(profiles.error());
      if (auto ok = session.home_.adopt_shared_profiles(*profiles, (*store)->describe()); !ok) {
        return tl::unexpected(ok.error());
      }
    }
  }
  return session;
}

Result<ca::Database*> Session::open_store() {
  if (!store_) {
    auto store =
        ca::open_database(home_.database_target(), {.read_only = access_ == Access::read_only});
    if (!store) return tl::unexpected(store.error());
    store_ = std::move(*store);
  }
  return store_.get();
}

Result<ca::CryptoContext*> Session::open_crypto(ca::CryptoContext::Scope scope) {
  if (!crypto_) {
    auto crypto = ca::CryptoContext::create(scope);
    if (!crypto) return tl::unexpected(crypto.error());
    crypto_ = std::move(*crypto);
  }
  return crypto_.get();
}

Result<Session> open_with_store(const Context& ctx, Session::Access access) {
  auto session = Session::open(ctx, access);
  if (!session) return tl::unexpected(session.error());
  if (auto store = session->open_store(); !store) return tl::unexpected(store.error());
  return session;
}

Result<Session> open_for_signing(const Context& ctx) {
  auto session = open_with_store(ctx, Session::Access::writable);
  if (!session) return tl::unexpected(session.error());
  if (auto crypto = session->open_crypto(); !crypto) return tl::unexpected(crypto.error());
  return session;
}

}  // namespace hwca::cli
