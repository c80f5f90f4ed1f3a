#include "ca/sqlite_issuance_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <set>
#include <utility>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kApplicationId = 0x68776361;  // "hwca", in the file header

// Version 1. Revocation state is revoked_at/revocation_reason, both NULL while valid.
const char* const kSchema = R"sql(
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
PRAGMA user_version = 1;
)sql";
static_assert(kApplicationId == 1752654689 && kSchemaVersion == 1, "update kSchema too");

#define HWCA_CERT_COLUMNS                                                            \
  "id, ca, serial, profile, subject, not_before, not_after, requester, revoked_at, " \
  "revocation_reason"
const char* const kSelectAll = "SELECT " HWCA_CERT_COLUMNS ", der FROM certs";
const char* const kSelectNoDer = "SELECT " HWCA_CERT_COLUMNS ", x'' FROM certs";
#undef HWCA_CERT_COLUMNS

struct StmtClose {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// A prepared statement; binding failures are kept and reported by the next step().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    s_.reset(s);
  }
  int prepare_rc() const { return rc_; }

  void bind(const char* name, const std::string& v) {
    if (int i = index(name)) {
      keep(sqlite3_bind_text64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    }
  }
  void bind(const char* name, int64_t v) {
    if (int i = index(name)) keep(sqlite3_bind_int64(s_.get(), i, v));
  }
  void bind(const char* name, const std::vector<uint8_t>& v) {
    if (int i = index(name)) {
      keep(v.empty() ? sqlite3_bind_zeroblob(s_.get(), i, 0)
                     : sqlite3_bind_blob64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT));
    }
  }
  void bind_null(const char* name) {
    if (int i = index(name)) keep(sqlite3_bind_null(s_.get(), i));
  }
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_.get()); }
  void reset() {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
  }

  int64_t int64(int col) const { return sqlite3_column_int64(s_.get(), col); }
  bool is_null(int col) const { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_.get(), col))) : "";
  }
  std::vector<uint8_t> blob(int col) const {
    auto p = static_cast<const uint8_t*>(sqlite3_column_blob(s_.get(), col));
    return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(s_.get(), col))
             : std::vector<uint8_t>{};
  }

 private:
  int index(const char* name) { return s_ ? sqlite3_bind_parameter_index(s_.get(), name) : 0; }
  void keep(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
  }
  std::unique_ptr<sqlite3_stmt, StmtClose> s_;
  int rc_ = SQLITE_OK;
};

// A transaction rolled back unless commit() succeeded. Declare it before the statements
// used in it, so that they are finalised first.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {}
  ~Txn() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  // A write transaction takes the write lock now (waiting up to the busy timeout), so it
  // never fails half way because another process wrote in between.
  int begin(bool write) {
    int rc = sqlite3_exec(db_, write ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr, nullptr);
    open_ = rc == SQLITE_OK;
    return rc;
  }
  int commit() {
    int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) open_ = false;
    return rc;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string utc_text(int64_t when) {
  std::time_t t = static_cast<std::time_t>(when);
  std::tm tm{};
  char buf[32];
  if (!gmtime_r(&t, &tm) || !std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
    return std::to_string(when);
  }
  return buf;
}

// Lower-case hex of whole octets, or an error.
Result<std::string> serial_key(const std::string& serial) {
  std::string s = serial;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  });
  bool hex = std::all_of(s.begin(), s.end(),
                         [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (s.empty() || !hex || s.size() % 2 != 0 || s.size() > 128) {
    return fail(ErrorKind::usage, "serial '" + printable(serial) +
                                      "' is not the hex of the serial's octets (e.g. 01ab)");
  }
  return s;
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

IssuedCert read_row(const Stmt& s) {
  IssuedCert c;
  c.ca = s.text(1);
  c.serial = s.text(2);
  c.profile = s.text(3);
  c.subject = s.text(4);
  c.not_before = s.int64(5);
  c.not_after = s.int64(6);
  c.requester = s.text(7);
  c.revoked = !s.is_null(8);
  c.revoked_at = c.revoked ? s.int64(8) : 0;
  c.revocation_reason = c.revoked ? static_cast<int>(s.int64(9)) : 0;
  c.der = s.blob(10);
  return c;
}

}  // namespace

void SqliteIssuanceStore::Close::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteIssuanceStore::SqliteIssuanceStore(std::string path, Db db, const Options& options)
    : path_(std::move(path)), db_(std::move(db)), options_(options) {}

tl::unexpected<Error> SqliteIssuanceStore::db_error(int rc, const std::string& doing) const {
  const std::string shown = printable(path_);
  const std::string text = printable(db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc));
  const int sys = db_ ? sqlite3_system_errno(db_.get()) : 0;
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
  return store;
}

Status SqliteIssuanceStore::prepare() {
  sqlite3* db = db_.get();
  sqlite3_busy_timeout(db, options_.busy_timeout_ms);
  int one = 1;  // keep -wal and -shm after closing: readers need them if the folder turns read-only
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);

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
  if (int rc = header.step(); rc != SQLITE_ROW) return db_error(rc, "read");
  const int64_t app = header.int64(0), version = header.int64(1), tables = header.int64(2);
  header.reset();

  Stmt check(db, "PRAGMA quick_check");
  if (int rc = check.step(); rc != SQLITE_ROW) return db_error(rc, "check");
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
    if (int rc = sqlite3_exec(db, setting, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, "configure");
    }
  }
  if (version == kSchemaVersion) return {};  // WAL mode is kept in the file
  if (auto w = writable(); !w) return w;

  Stmt wal(db, "PRAGMA journal_mode = WAL");
  int rc = wal.step();
  if (rc != SQLITE_ROW) return db_error(rc, "configure");
  if (wal.text(0) != "wal") {
    return fail(ErrorKind::io, "issuance database " + shown +
                                   " cannot use WAL mode (journal mode " + printable(wal.text(0)) +
                                   ")");
  }
  wal.reset();

  Txn txn(db);
  if (rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "create");
  auto again = read_int("PRAGMA user_version");  // another process may have been first
  if (!again) return tl::unexpected(again.error());
  if (*again == 0) {
    if (rc = sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return db_error(rc, "create the tables of");
    }
  }
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "create");
  return {};
}

Status SqliteIssuanceStore::writable() const {
  if (sqlite3_db_readonly(db_.get(), "main") != 1) return {};
  return fail(ErrorKind::io,
              "issuance database " + printable(path_) + " is read-only (" +
                  (options_.read_only ? "opened read-only" : "the file is not writable") + ")");
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::query(const char* sql, const std::string* ca,
                                                           const std::string* serial,
                                                           const int64_t* before) {
  sqlite3* db = db_.get();
  Txn txn(db);  // one snapshot for the rows and their SANs
  if (int rc = txn.begin(/*write=*/false); rc != SQLITE_OK) return db_error(rc, "read");
  Stmt rows(db, sql);
  if (ca) rows.bind(":ca", *ca);
  if (serial) rows.bind(":serial", *serial);
  if (before) rows.bind(":before", *before);
  Stmt sans(db, "SELECT san FROM cert_sans WHERE cert_id = :id ORDER BY position");
  std::vector<IssuedCert> out;
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) {
    out.push_back(read_row(rows));
    sans.bind(":id", rows.int64(0));
    int src;
    while ((src = sans.step()) == SQLITE_ROW) out.back().sans.push_back(sans.text(0));
    if (src != SQLITE_DONE) return db_error(src, "read");
    sans.reset();
  }
  if (rc != SQLITE_DONE) return db_error(rc, "read");
  return out;
}

Result<bool> SqliteIssuanceStore::serial_exists(const std::string& ca, const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  std::lock_guard lock(mu_);
  Stmt s(db_.get(), "SELECT 1 FROM certs WHERE ca = :ca AND serial = :serial");
  s.bind(":ca", ca);
  s.bind(":serial", *key);
  int rc = s.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(rc, "read");
  return rc == SQLITE_ROW;
}

Status SqliteIssuanceStore::record(const std::vector<IssuedCert>& batch) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& c : batch) {
    auto key = serial_key(c.serial);
    if (!key) return tl::unexpected(key.error());
    if (*key != c.serial) {
      return fail(ErrorKind::usage, "serial " + printable(c.serial) + " is not lower-case hex");
    }
    if (c.ca.empty()) return fail(ErrorKind::usage, "certificate " + c.serial + " names no CA");
    if (c.der.empty()) return fail(ErrorKind::usage, "certificate " + c.serial + " has no DER");
    if (c.revoked && !valid_crl_reason(c.revocation_reason)) {
      return fail(ErrorKind::usage, "certificate " + c.serial + " has revocation reason " +
                                        std::to_string(c.revocation_reason) +
                                        ", not an RFC 5280 CRLReason");
    }
    if (!seen.emplace(c.ca, c.serial).second) {
      return fail(ErrorKind::conflict, "serial " + c.serial + " of CA '" + printable(c.ca) +
                                           "' appears twice in the batch; nothing was recorded");
    }
  }
  if (batch.empty()) return {};
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return w;
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "record in");
  Stmt cert(db,
            "INSERT INTO certs (ca, serial, profile, subject, not_before, not_after, requester, "
            "der, revoked_at, revocation_reason, recorded_at) VALUES (:ca, :serial, :profile, "
            ":subject, :not_before, :not_after, :requester, :der, :revoked_at, :reason, :now)");
  Stmt san(db, "INSERT INTO cert_sans (cert_id, position, san) VALUES (:id, :position, :san)");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& c : batch) {
    cert.bind(":ca", c.ca);
    cert.bind(":serial", c.serial);
    cert.bind(":profile", c.profile);
    cert.bind(":subject", c.subject);
    cert.bind(":not_before", c.not_before);
    cert.bind(":not_after", c.not_after);
    cert.bind(":requester", c.requester);
    cert.bind(":der", c.der);
    if (c.revoked) {
      cert.bind(":revoked_at", c.revoked_at);
      cert.bind(":reason", static_cast<int64_t>(c.revocation_reason));
    } else {
      cert.bind_null(":revoked_at");
      cert.bind_null(":reason");
    }
    cert.bind(":now", now);
    int rc = cert.step();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      return fail(ErrorKind::conflict, "CA '" + printable(c.ca) + "' already used serial " +
                                           c.serial + "; nothing was recorded");
    }
    if (rc != SQLITE_DONE) return db_error(rc, "record in");
    cert.reset();
    const int64_t id = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; i < c.sans.size(); ++i) {
      san.bind(":id", id);
      san.bind(":position", static_cast<int64_t>(i));
      san.bind(":san", c.sans[i]);
      if (rc = san.step(); rc != SQLITE_DONE) return db_error(rc, "record in");
      san.reset();
    }
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "record in");
  return {};
}

Result<std::optional<IssuedCert>> SqliteIssuanceStore::find(const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  std::lock_guard lock(mu_);
  auto found =
      query((std::string(kSelectAll) + " WHERE serial = :serial ORDER BY ca LIMIT 2").c_str(),
            nullptr, &*key, nullptr);
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  if (found->size() > 1) {
    return fail(ErrorKind::conflict, "serial " + *key + " was used by several CAs ('" +
                                         printable((*found)[0].ca) + "', '" +
                                         printable((*found)[1].ca) + "'); name the CA");
  }
  return std::move(found->front());
}

Result<std::optional<IssuedCert>> SqliteIssuanceStore::find(const std::string& ca,
                                                            const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  std::lock_guard lock(mu_);
  auto found = query((std::string(kSelectAll) + " WHERE ca = :ca AND serial = :serial").c_str(),
                     &ca, &*key, nullptr);
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  return std::move(found->front());
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::list(
    const std::optional<std::string>& ca, const std::optional<int64_t>& expiring_before) {
  // Constant SQL text only: the values are bound.
  std::string sql = kSelectAll;
  if (ca && expiring_before) {
    sql += " WHERE ca = :ca AND not_after < :before";
  } else if (ca) {
    sql += " WHERE ca = :ca";
  } else if (expiring_before) {
    sql += " WHERE not_after < :before";
  }
  sql += " ORDER BY not_after, serial, ca";
  std::lock_guard lock(mu_);
  return query(sql.c_str(), ca ? &*ca : nullptr, nullptr,
               expiring_before ? &*expiring_before : nullptr);
}

Status SqliteIssuanceStore::revoke(const std::string& ca, const std::string& serial, int reason,
                                   int64_t when) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  if (!valid_crl_reason(reason)) {
    return fail(ErrorKind::usage, "revocation reason " + std::to_string(reason) +
                                      " is not an RFC 5280 CRLReason (0-10 except 7)");
  }
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return w;
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "revoke in");
  Stmt find(db, "SELECT id, revoked_at FROM certs WHERE ca = :ca AND serial = :serial");
  find.bind(":ca", ca);
  find.bind(":serial", *key);
  int rc = find.step();
  if (rc == SQLITE_DONE) {
    return fail(ErrorKind::not_found, "CA '" + printable(ca) + "' has no certificate with serial " +
                                          *key + " in issuance database " + printable(path_));
  }
  if (rc != SQLITE_ROW) return db_error(rc, "revoke in");
  if (!find.is_null(1)) {
    return fail(ErrorKind::conflict, "certificate " + *key + " of CA '" + printable(ca) +
                                         "' was already revoked at " + utc_text(find.int64(1)));
  }
  Stmt update(db,
              "UPDATE certs SET revoked_at = :when, revocation_reason = :reason WHERE id = :id");
  update.bind(":when", when);
  update.bind(":reason", static_cast<int64_t>(reason));
  update.bind(":id", find.int64(0));
  if (rc = update.step(); rc != SQLITE_DONE) return db_error(rc, "revoke in");
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "revoke in");
  return {};
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::revoked(const std::string& ca) {
  std::lock_guard lock(mu_);
  return query((std::string(kSelectNoDer) +
                " WHERE ca = :ca AND revoked_at IS NOT NULL ORDER BY revoked_at, serial")
                   .c_str(),
               &ca, nullptr, nullptr);
}

Result<uint64_t> SqliteIssuanceStore::next_crl_number(const std::string& ca) {
  if (ca.empty()) return fail(ErrorKind::usage, "no CA named for the CRL number");
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "count CRLs in");
  Stmt next(db,
            "INSERT INTO crl_numbers (ca, last) VALUES (:ca, 1) "
            "ON CONFLICT (ca) DO UPDATE SET last = last + 1 RETURNING last");
  next.bind(":ca", ca);
  int rc = next.step();
  if (rc != SQLITE_ROW) return db_error(rc, "count CRLs in");
  const auto number = static_cast<uint64_t>(next.int64(0));
  if (rc = next.step(); rc != SQLITE_DONE) return db_error(rc, "count CRLs in");
  next.reset();
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "count CRLs in");
  return number;
}

}  // namespace hwca::ca
