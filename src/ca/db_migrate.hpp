// hwca db migrate: a home's records moved from its SQLite file and audit log to an empty
// PostgreSQL database, so that several instances can share them (docs/cli.md).
//
// Everything is copied in one PostgreSQL transaction, with the tables locked against other
// instances: every certificate with all its columns (recorded_at, lineage, attestation), the
// serial reservations, CRL numbers, bootstrap tokens (their secrets' SHA-256 and creation
// order), node TPMs, EK roots, the home's CAs (config.yaml entry and certificate, as 'hwca
// ca init' publishes a shared CA) and the audit chain line for line, so its hashes stay
// what they were. The SQLite file is held write-locked meanwhile (a server on the home gets
// "busy", nothing lands after the copy), and an audit log that grew is refused before the
// commit. After the commit the copy is read back by the PostgreSQL store and audit trail
// and checked against the source: the rows of every table counted, the chain verified with
// the same number of lines and the same head. Only then is a "db.migrated" line appended and
// config.yaml switched to the database; the SQLite file and the audit log are left as they
// were, as a backup.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

class Home;

struct MigrationReport {
  std::string from;        // the SQLite file's path
  std::string audit_from;  // the audit log's path
  std::string to;          // the database, as messages name it (never a password)
  std::vector<std::pair<std::string, size_t>> rows;  // table, rows copied (and read back)
  size_t audit_lines = 0;                            // lines copied (the migration's own after)
  std::string audit_head;                            // hash of the last one copied
};

// `url`: a PostgreSQL URL without a password whose hwca tables are empty or absent;
// `requester` goes in the audit line. The home must use an SQLite file. On success the home
// (and its config.yaml) names the database.
Result<MigrationReport> migrate_to_postgresql(Home& home, const std::string& url,
                                              const std::string& requester);

}  // namespace hwca::ca
