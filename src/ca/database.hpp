// The CA's database: the issuance records (issuance_store.hpp), the node registry
// (node_registry.hpp) and the TPM registry (tpm_registry.hpp) in one object.
// SqliteIssuanceStore keeps it in a file of the home, for a CA on one host;
// PgIssuanceStore in a PostgreSQL database that several hwca instances share.
// open_database() picks one by the configuration's `database:` value.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ca/ca_catalog.hpp"
#include "ca/issuance_store.hpp"
#include "ca/node_registry.hpp"
#include "ca/tpm_registry.hpp"

namespace hwca::ca {

class Database : public IssuanceStore, public NodeRegistry, public TpmRegistry {
 public:
  // The database in messages: a file path, or a PostgreSQL URL without its password.
  virtual std::string describe() const = 0;
  // The CA definitions it shares between instances (ca_catalog.hpp), or null (SQLite: the
  // CAs are the home's).
  virtual CaCatalog* catalog() { return nullptr; }
};

// Whether `target` names a PostgreSQL database (postgresql:// or postgres://) rather than
// an SQLite file.
bool is_postgresql_url(std::string_view target);

struct DatabaseOptions {
  bool read_only = false;  // never creates nor changes anything
};

// A configuration's database value: an SQLite file's path is taken as it is; a PostgreSQL URL
// must parse and carry no password (pg_connection.hpp).
Status check_database_target(const std::string& target);

// `target`: a PostgreSQL URL, else the path of an SQLite file.
Result<std::unique_ptr<Database>> open_database(const std::string& target,
                                                const DatabaseOptions& options);

}  // namespace hwca::ca
