// What a command opens: the CA home, its issuance database, the library context.
#include "cli/session.hpp"

namespace hwca::cli {

Result<Session> Session::open(const Context& ctx, Access access) {
  auto home = ca::Home::open(ca::resolve_home(ctx.home), access == Access::create);
  if (!home) return tl::unexpected(home.error());
  return Session(std::move(*home), access);
}

Result<ca::Database*> Session::open_store() {
  if (!store_) {
    auto store = ca::open_database(home_.database_target(),
                                   {.read_only = access_ == Access::read_only});
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
