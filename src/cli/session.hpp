// What a command opens, and in which order: the CA home first, then - after what can be
// checked without them - the home's issuance database and the library context with the
// provider. Every command opens the home through Session::open; a command that signs opens
// all three (open_for_signing, or step by step when it checks something in between).
#pragma once

#include <memory>

#include "ca/crypto_context.hpp"
#include "ca/database.hpp"
#include "ca/home.hpp"
#include "cli/context.hpp"
#include "common/result.hpp"

namespace hwca::cli {

class Session {
 public:
  // read_only: the database is opened read-only (never created nor changed); writable: it
  // is created if missing; create: the home too (mode 0700, an empty config).
  enum class Access { read_only, writable, create };

  // The home alone ($HWCA_HOME or the default when --home is not given).
  static Result<Session> open(const Context& ctx, Access access);

  ca::Home& home() { return home_; }

  // Open the issuance database (read-only for Access::read_only) or the library context
  // with the provider; a second call gives the one already open.
  Result<ca::Database*> open_store();
  Result<ca::CryptoContext*> open_crypto(
      ca::CryptoContext::Scope scope = ca::CryptoContext::Scope::own);

  // Those opened above; only once they are.
  ca::Database& store() { return *store_; }
  ca::CryptoContext& crypto() { return *crypto_; }

 private:
  Session(ca::Home home, Access access) : home_(std::move(home)), access_(access) {}

  ca::Home home_;
  Access access_;
  std::unique_ptr<ca::Database> store_;
  std::unique_ptr<ca::CryptoContext> crypto_;
};

// The home and its issuance database, opened at once (commands that keep records only).
Result<Session> open_with_store(const Context& ctx, Session::Access access);

// What a command that signs needs, opened at once: the home, its issuance database
// (writable) and the library context with the provider.
Result<Session> open_for_signing(const Context& ctx);

}  // namespace hwca::cli
