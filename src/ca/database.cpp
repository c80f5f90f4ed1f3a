#include "ca/database.hpp"

#include "ca/pg_connection.hpp"
#include "ca/pg_issuance_store.hpp"
#include "ca/sqlite_issuance_store.hpp"

namespace hwca::ca {

bool is_postgresql_url(std::string_view target) {
  return target.starts_with("postgresql://") || target.starts_with("postgres://");
}

Status check_database_target(const std::string& target) {
  if (!is_postgresql_url(target)) return {};
  auto name = pg::database_name(target);
  if (!name) return tl::unexpected(name.error());
  return {};
}

Result<std::unique_ptr<Database>> open_database(const std::string& target,
                                                const DatabaseOptions& options) {
  if (is_postgresql_url(target)) {
    auto store = PgIssuanceStore::open(target, {.read_only = options.read_only});
    if (!store) return tl::unexpected(store.error());
    return std::unique_ptr<Database>(std::move(*store));
  }
  auto store = SqliteIssuanceStore::open(target, {.read_only = options.read_only});
  if (!store) return tl::unexpected(store.error());
  return std::unique_ptr<Database>(std::move(*store));
}

}  // namespace hwca::ca
