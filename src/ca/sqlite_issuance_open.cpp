// SqliteIssuanceStore: opening the database file and checking it (header, quick_check,
// schema version), applying its settings, creating or upgrading the schema, and SQLite
// errors as Errors.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "ca/spki.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "ca/sqlite_statement.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

using sqlite::Stmt;
using sqlite::Txn;

constexpr int kSchemaVersion = 6;
constexpr int kApplicationId = 0x68776361;  // "hwca", in the file header

// Version 1: the certificates. Revocation state is revoked_at/revocation_reason, both NULL
// while valid. Never changed: a version-1 file is upgraded by adding kSchemaV2 to it.
const char* const kSchemaV1 = R"sql(
CREATE TABLE certs (
  id INTEGER PRIMARY KEY,
  ca TEXT NOT NULL CHECK (ca <> ''),
  serial TEXT NOT NULL CHECK (serial <> ''),
  profile TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  requester TEXT NOT NULL,
  der BLOB NOT NULL,
  revoked_at INTEGER,
  revocation_reason INTEGER,
  recorded_at INTEGER NOT NULL,
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) STRICT;
CREATE UNIQUE INDEX certs_by_ca_serial ON certs (ca, serial);
CREATE INDEX certs_by_serial ON certs (serial);
CREATE INDEX certs_by_not_after ON certs (not_after, serial);
CREATE INDEX certs_revoked ON certs (ca, revoked_at) WHERE revoked_at IS NOT NULL;
CREATE TABLE cert_sans (
  cert_id INTEGER NOT NULL REFERENCES certs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  san TEXT NOT NULL,
  PRIMARY KEY (cert_id, position)
) STRICT, WITHOUT ROWID;
CREATE TABLE crl_numbers (
  ca TEXT PRIMARY KEY,
  last INTEGER NOT NULL CHECK (last > 0)
) STRICT;
PRAGMA application_id = 1752654689;
)sql";

// Version 2 adds the node registry (node_registry.hpp): bootstrap tokens, kept as the
// SHA-256 of their text only. A node's registration is the last token it spent (so giving a
// token back restores the one before). Addresses are JSON arrays of canonical IP address
// text; used_at and revoked_at are NULL until it happens.
const char* const kSchemaV2 = R"sql(
CREATE TABLE bootstrap_tokens (
  id TEXT PRIMARY KEY CHECK (length(id) = 6),
  node TEXT NOT NULL CHECK (node <> ''),
  secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
  addresses TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX bootstrap_tokens_by_created ON bootstrap_tokens (created_at, id);
CREATE INDEX bootstrap_tokens_spent ON bootstrap_tokens (node, used_at)
  WHERE used_at IS NOT NULL;
PRAGMA user_version = 2;
)sql";

// Version 3 adds each certificate's lineage: the serial of the certificate that
// authenticated the renewal it was issued by (NULL if none), and the SHA-256 of its
// SubjectPublicKeyInfo as hex (filled for older rows from their DER by fill_spki). The
// partial index answers "was this key revoked for keyCompromise?" (reason 1).
const char* const kSchemaV3 = R"sql(
ALTER TABLE certs ADD COLUMN renewed_from TEXT CHECK (renewed_from IS NULL OR renewed_from <> '');
ALTER TABLE certs ADD COLUMN spki_sha256 TEXT
  CHECK (spki_sha256 IS NULL OR length(spki_sha256) = 64);
CREATE INDEX certs_by_renewed_from ON certs (ca, renewed_from) WHERE renewed_from IS NOT NULL;
CREATE INDEX certs_compromised_keys ON certs (spki_sha256) WHERE revocation_reason = 1;
PRAGMA user_version = 3;
)sql";
// Version 4 adds the registry of nodes' TPMs (tpm_registry.hpp): a node's EK, keyed by the
// SHA-256 of its SubjectPublicKeyInfo (one TPM per node, one node per EK), the EK roots, and,
// on each certificate issued by attestation, what it was attested with (hex; NULL if it was
// not): the EK's SHA-256, the AK's TPM Name and the certified key's TPM Name.
const char* const kSchemaV4 = R"sql(
CREATE TABLE node_tpms (
  node TEXT PRIMARY KEY CHECK (node <> ''),
  ek_sha256 TEXT NOT NULL UNIQUE CHECK (length(ek_sha256) = 64),
  ek_kind TEXT NOT NULL CHECK (ek_kind IN ('certificate', 'public-key')),
  ek_der BLOB NOT NULL CHECK (length(ek_der) > 0),
  registered_at INTEGER NOT NULL,
  registered_by TEXT NOT NULL
) STRICT;
CREATE TABLE ek_roots (
  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  subject TEXT NOT NULL,
  anchor INTEGER NOT NULL CHECK (anchor IN (0, 1)),
  der BLOB NOT NULL CHECK (length(der) > 0),
  added_at INTEGER NOT NULL,
  added_by TEXT NOT NULL
) STRICT;
ALTER TABLE certs ADD COLUMN attest_ek_sha256 TEXT
  CHECK (attest_ek_sha256 IS NULL OR length(attest_ek_sha256) = 64);
ALTER TABLE certs ADD COLUMN attest_ak_name TEXT CHECK (attest_ak_name IS NULL OR attest_ak_name <> '');
ALTER TABLE certs ADD COLUMN attest_key_name TEXT
  CHECK (attest_key_name IS NULL OR attest_key_name <> '');
PRAGMA user_version = 4;
)sql";
// Version 5 adds the addresses of a node registered by its TPM ('hwca node register --ip'),
// a JSON array of canonical IP address text as bootstrap_tokens.addresses: what its
// kubelet-serving certificates may name. Rows of version 4 get none.
const char* const kSchemaV5 = R"sql(
ALTER TABLE node_tpms ADD COLUMN addresses TEXT NOT NULL DEFAULT '[]';
PRAGMA user_version = 5;
)sql";
// Version 6 adds the serials reserved before the token signs with them (reserve_serials): a
// serial is written here first, so that no signature is ever made under a serial the
// database does not know, and none twice.
const char* const kSchemaV6 = R"sql(
CREATE TABLE serial_reservations (
  ca TEXT NOT NULL CHECK (ca <> ''),
  serial TEXT NOT NULL CHECK (serial <> ''),
  reserved_at INTEGER NOT NULL,
  PRIMARY KEY (ca, serial)
) STRICT, WITHOUT ROWID;
PRAGMA user_version = 6;
)sql";
static_assert(kApplicationId == 1752654689 && kSchemaVersion == 6, "update the schema texts too");

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// SQLITE_NOTADB for a file without the SQLite header: a database whose first page was
// overwritten (binary, whole pages) or some other file (text, or not a page multiple).
bool looks_like_damaged_database(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  char head[512];
  ssize_t n = ::fstat(fd, &st) == 0 ? ::pread(fd, head, sizeof head, 0) : -1;
  ::close(fd);
  if (n <= 0) return false;
  static const char kMagic[] = "SQLite format 3";  // and its NUL
  if (n >= 16 && std::equal(kMagic, kMagic + 16, head)) return true;
  bool binary = std::any_of(head, head + n, [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 && u != '\t' && u != '\n' && u != '\r';
  });
  return binary && st.st_size % 512 == 0;
}

// Create the file with mode 0600 (whatever the umask) if it is missing; SQLite creates
// -wal and -shm with the database file's mode.
Status create_if_missing(const std::string& path, const std::string& shown) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == EEXIST) return {};
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EROFS) {
      return fail(ErrorKind::io, "issuance database " + shown +
                                     " is read-only (cannot create it: " + error_text(err) + ")");
    }
    return fail(ErrorKind::io, "cannot create issuance database " + shown + ": " + error_text(err));
  }
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    ::unlink(path.c_str());
    return fail(ErrorKind::io,
                "cannot set the mode of issuance database " + shown + ": " + error_text(err));
  }
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the new name survives a crash
    ::close(dfd);
  }
  return {};
}

}  // namespace

void SqliteIssuanceStore::Close::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteIssuanceStore::SqliteIssuanceStore(std::string path, Db db, const Options& options)
    : path_(std::move(path)),
      db_(std::move(db)),
      options_(options),
      write_stmts_(std::make_unique<sqlite::StmtCache>()),
      read_stmts_(std::make_unique<sqlite::StmtCache>()) {}

SqliteIssuanceStore::~SqliteIssuanceStore() = default;

tl::unexpected<Error> SqliteIssuanceStore::db_error(int rc, const std::string& doing,
                                                    sqlite3* db) const {
  auto e = db_error_kind(rc, doing, db);
  e.value().source = ErrorSource::database;  // whatever the kind: the database failed
  return e;
}

tl::unexpected<Error> SqliteIssuanceStore::db_error_kind(int rc, const std::string& doing,
                                                         sqlite3* db) const {
  if (db == nullptr) db = db_.get();
  const std::string shown = printable(path_);
  const std::string text = printable(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  const int sys = db ? sqlite3_system_errno(db) : 0;
  const std::string why = text + (sys != 0 ? " (" + error_text(sys) + ")" : "");
  switch (rc & 0xff) {
    case SQLITE_READONLY:
      return fail(ErrorKind::io,
                  "issuance database " + shown + " is read-only (" +
                      (rc == SQLITE_READONLY_DIRECTORY
                           ? "its folder is not writable and it has no -wal and -shm files"
                           : text) +
                      ")");
    case SQLITE_CORRUPT:
      return fail(ErrorKind::io, "issuance database " + shown + " is corrupt: " + text +
                                     "; restore it from a backup");
    case SQLITE_NOTADB:
      if (!looks_like_damaged_database(path_)) {
        return fail(ErrorKind::usage, shown + " is not an SQLite database");
      }
      return fail(ErrorKind::io, "issuance database " + shown + " is corrupt: " + text +
                                     "; restore it from a backup");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return fail(ErrorKind::io, "cannot " + doing + " issuance database " + shown +
                                     ": it is locked by another process; gave up after " +
                                     std::to_string(options_.busy_timeout_ms) + " ms (" + text +
                                     ")");
    case SQLITE_FULL:
      return fail(ErrorKind::io,
                  "cannot " + doing + " issuance database " + shown + ": the disk is full");
    case SQLITE_CANTOPEN:
      if (rc == SQLITE_CANTOPEN_SYMLINK) {
        return fail(ErrorKind::usage,
                    "issuance database " + shown + " is a symbolic link; name the file itself");
      }
      return fail(ErrorKind::io, "cannot open issuance database " + shown + ": " + why);
    case SQLITE_IOERR:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
      return fail(ErrorKind::io, "cannot " + doing + " issuance database " + shown + ": " + why);
    default:
      return fail(ErrorKind::internal,
                  "cannot " + doing + " issuance database " + shown + ": " + why);
  }
}

Result<std::unique_ptr<SqliteIssuanceStore>> SqliteIssuanceStore::open(const std::string& path) {
  return open(path, Options{});
}

Result<std::unique_ptr<SqliteIssuanceStore>> SqliteIssuanceStore::open(const std::string& path,
                                                                       const Options& options) {
  const std::string shown = printable(path);
  if (path.empty()) return fail(ErrorKind::usage, "no issuance database named");
  const std::string dir = dir_of(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(ErrorKind::not_found, "cannot open issuance database " + shown + ": folder " +
                                          printable(dir) + " does not exist");
  }
  if (options.read_only) {
    if (::stat(path.c_str(), &st) != 0) {
      return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                  "cannot open issuance database " + shown + ": " + error_text(errno));
    }
  } else if (auto created = create_if_missing(path, shown); !created) {
    return tl::unexpected(created.error());
  }
  int flags = (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
              SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  auto store =
      std::unique_ptr<SqliteIssuanceStore>(new SqliteIssuanceStore(path, Db(raw), options));
  if (raw == nullptr) return fail(ErrorKind::internal, "out of memory opening " + shown);
  sqlite3_extended_result_codes(raw, 1);
  if (rc != SQLITE_OK) return store->db_error(sqlite3_extended_errcode(raw), "open");
  if (auto ok = store->prepare(); !ok) return tl::unexpected(ok.error());
  if (!options.read_only) {
    if (auto ok = store->open_reader(); !ok) return tl::unexpected(ok.error());
  }
  return store;
}

Status SqliteIssuanceStore::open_reader() {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  reader_.reset(raw);
  if (raw == nullptr) return fail(ErrorKind::internal, "out of memory opening " + printable(path_));
  sqlite3_extended_result_codes(raw, 1);
  if (rc != SQLITE_OK) return db_error(sqlite3_extended_errcode(raw), "open", raw);
  sqlite3_busy_timeout(raw, options_.busy_timeout_ms);
  int one = 1;  // as the writer's: closing last must not remove -wal and -shm
  sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
  return {};
}

SqliteIssuanceStore::ReadConn SqliteIssuanceStore::reader() {
  if (reader_) return {std::unique_lock(read_mu_), reader_.get(), read_stmts_.get()};
  return {std::unique_lock(mu_), db_.get(), write_stmts_.get()};
}

Status SqliteIssuanceStore::prepare() {
  sqlite3* db = db_.get();
  sqlite3_busy_timeout(db, options_.busy_timeout_ms);
  int one = 1;  // keep -wal and -shm after closing: readers need them if the folder turns read-only
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);

  // While another process creates the schema (switching the file to WAL), SQLite may answer
  // SQLITE_BUSY at once, without its busy handler: try again until the busy timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
  auto retry_busy = [&](auto&& attempt) {
    for (;;) {
      int rc = attempt();
      if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) return rc;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };

  auto read_int = [&](const char* sql) -> Result<int64_t> {
    Stmt s(db, sql);
    int rc = s.step();
    if (rc != SQLITE_ROW) return db_error(rc, "read");
    return s.int64(0);
  };
  // The first read (is this SQLite at all?), in one snapshot: a process creating the schema
  // at the same moment is seen before or after, never half way.
  Stmt header(db,
              "SELECT (SELECT application_id FROM pragma_application_id), "
              "(SELECT user_version FROM pragma_user_version), "
              "(SELECT count(*) FROM sqlite_schema)");
  if (int rc = retry_busy([&] {
        header.reset();
        return header.step();
      });
      rc != SQLITE_ROW) {
    return db_error(rc, "read");
  }
  const int64_t app = header.int64(0), version = header.int64(1), tables = header.int64(2);
  header.reset();

  Stmt check(db, "PRAGMA quick_check");
  if (int rc = retry_busy([&] {
        check.reset();
        return check.step();
      });
      rc != SQLITE_ROW) {
    return db_error(rc, "check");
  }
  if (std::string first = check.text(0); first != "ok") {
    // "*** in database main ***\nPage 57: btreeInitPage() returns error code 11"
    const std::string prefix = "*** in database main ***\n";
    if (first.compare(0, prefix.size(), prefix) == 0) first.erase(0, prefix.size());
    std::replace(first.begin(), first.end(), '\n', ' ');
    return fail(ErrorKind::io, "issuance database " + printable(path_) + " is corrupt: " +
                                   printable(first) + "; restore it from a backup");
  }
  check.reset();

  const std::string shown = printable(path_);
  if ((app != 0 && app != kApplicationId) || (version == 0 && tables != 0)) {
    return fail(ErrorKind::usage,
                shown + " is an SQLite database of another program, not an issuance database");
  }
  if (version < 0 || version > kSchemaVersion) {
    return fail(ErrorKind::usage, "issuance database " + shown + " has schema version " +
                                      std::to_string(version) +
                                      "; this hwca knows versions up to " +
                                      std::to_string(kSchemaVersion) + ": use a newer hwca");
  }

  // journal_size_limit: the WAL shrinks back after a checkpoint, and to nothing on closing.
  for (const char* setting : {"PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON",
                              "PRAGMA journal_size_limit = 67108864"}) {
    int rc = retry_busy([&] { return sqlite3_exec(db, setting, nullptr, nullptr, nullptr); });
    if (rc != SQLITE_OK) return db_error(rc, "configure");
  }
  if (version == kSchemaVersion) return {};  // WAL mode is kept in the file
  // An older database that cannot be written (opened read-only, or a read-only file) is
  // read as it is: the tables it lacks read as empty (the node registry's reads check the
  // version), its lineage as unknown. It is upgraded the next time it is opened writable.
  if (version != 0 && !writable()) {
    lineage_ = version >= 3;
    attestation_ = version >= 4;
    return {};
  }
  if (auto w = writable(); !w) return w;

  Stmt wal(db, "PRAGMA journal_mode = WAL");
  int rc = retry_busy([&] {
    wal.reset();
    return wal.step();
  });
  if (rc != SQLITE_ROW) return db_error(rc, "configure");
  if (wal.text(0) != "wal") {
    return fail(ErrorKind::io, "issuance database " + shown +
                                   " cannot use WAL mode (journal mode " + printable(wal.text(0)) +
                                   ")");
  }
  wal.reset();

  // Create (version 0) or upgrade (versions 1 to 5) in one write transaction: a crash leaves the
  // file as it was, and the version is read again under the write lock, since another
  // process may have created or upgraded it since the first read.
  const char* const doing = version == 0 ? "create" : "upgrade";
  Txn txn(db);
  if (rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, doing);
  auto again = read_int("PRAGMA user_version");
  if (!again) return tl::unexpected(again.error());
  if (*again > kSchemaVersion) {
    return fail(ErrorKind::usage, "issuance database " + shown + " has schema version " +
                                      std::to_string(*again) + "; this hwca knows versions up to " +
                                      std::to_string(kSchemaVersion) + ": use a newer hwca");
  }
  if (*again == 0) {
    if (rc = sqlite3_exec(db, kSchemaV1, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, "create the tables of");
    }
  }
  if (*again < 2) {
    if (rc = sqlite3_exec(db, kSchemaV2, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, *again == 0 ? "create the tables of" : "upgrade");
    }
  }
  if (*again < 3) {
    if (rc = sqlite3_exec(db, kSchemaV3, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, *again == 0 ? "create the tables of" : "upgrade");
    }
    if (auto ok = fill_spki(); !ok) return ok;
  }
  if (*again < 4) {
    if (rc = sqlite3_exec(db, kSchemaV4, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, *again == 0 ? "create the tables of" : "upgrade");
    }
  }
  if (*again < 5) {
    if (rc = sqlite3_exec(db, kSchemaV5, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, *again == 0 ? "create the tables of" : "upgrade");
    }
  }
  if (*again < 6) {
    if (rc = sqlite3_exec(db, kSchemaV6, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, *again == 0 ? "create the tables of" : "upgrade");
    }
  }
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, doing);
  return {};
}

Status SqliteIssuanceStore::fill_spki() {
  sqlite3* db = db_.get();
  // Read first, then write: the digests only, not the certificates, are kept meanwhile.
  std::vector<std::pair<int64_t, std::string>> found;
  Stmt rows(db, "SELECT id, der FROM certs WHERE spki_sha256 IS NULL");
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) {
    // A DER that is no certificate (none is, unless written by hand) keeps NULL: unknown.
    std::string spki = spki_sha256_of_cert(rows.blob(1));
    if (!spki.empty()) found.emplace_back(rows.int64(0), std::move(spki));
  }
  if (rc != SQLITE_DONE) return db_error(rc, "upgrade");
  rows.reset();
  Stmt update(db, "UPDATE certs SET spki_sha256 = :spki WHERE id = :id");
  for (const auto& [id, spki] : found) {
    update.bind(":spki", spki);
    update.bind(":id", id);
    if (rc = update.step(); rc != SQLITE_DONE) return db_error(rc, "upgrade");
    update.reset();
  }
  return {};
}

Result<int64_t> SqliteIssuanceStore::schema_version(sqlite3* db, sqlite::StmtCache* stmts) {
  const char* sql = "PRAGMA user_version";
  Stmt s = stmts != nullptr ? Stmt(*stmts, db, sql) : Stmt(db, sql);
  int rc = s.step();
  if (rc != SQLITE_ROW) return db_error(rc, "read", db);
  return s.int64(0);
}

Status SqliteIssuanceStore::writable() const {
  if (sqlite3_db_readonly(db_.get(), "main") != 1) return {};
  return fail(ErrorKind::io,
              "issuance database " + printable(path_) + " is read-only (" +
                  (options_.read_only ? "opened read-only" : "the file is not writable") + ")");
}

}  // namespace hwca::ca
