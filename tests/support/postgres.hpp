// A PostgreSQL server of the test's own: a fresh cluster (initdb, superuser "hwca", trust
// authentication) in a new 0700 folder, serving on a Unix socket in that folder only (no TCP),
// stopped and removed with the object. The newest /usr/lib/postgresql/*/bin is used. As root,
// initdb and postgres run as the "postgres" user (they refuse root), which owns the folder.
//
// The postmaster runs in a session of its own (a terminal's ^C does not reach it) and, when
// the object owns it and was made on the program's main thread, is killed with the program
// (a ctest timeout must not leave servers behind).
//
// Many test programs share one server through ctest: hwca_pg_fixture (pg.start, pg.stop)
// starts it before the first and removes it after the last, and shared_postgres() attaches to
// it (tests/CMakeLists.txt, HWCA_PG_TEST_PROPERTIES).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace hwca::test {

struct PostgresOptions {
  std::string parent = "/tmp";  // where its folder is made
  // false: -c fsync=off (tests: a crash of the server still keeps what was committed, a crash
  // of the machine would not); benchmarks pass true to measure what production pays.
  bool fsync = false;
};

class PostgresServer {
 public:
  // initdb and start in a new folder under options.parent, on a random port number (it only
  // names the socket file in the folder); throws std::runtime_error (with the end of the
  // server's log) if it cannot.
  explicit PostgresServer(PostgresOptions options = {});
  // For hwca_pg_fixture: the same in `dir` (which must not exist), but the server outlives
  // this object and this program; attach(dir) finds it again.
  static std::unique_ptr<PostgresServer> start_detached(const std::string& dir,
                                                        PostgresOptions options = {});
  // A server someone else started in `dir` (its port in dir/port), running: stop(), start()
  // and kill() act on it (start() with the options it was made with), the destructor leaves
  // it and its folder alone. Throws std::runtime_error if no server answers there, or, with
  // must_run false, only if dir holds no server's folder.
  static std::unique_ptr<PostgresServer> attach(const std::string& dir, bool must_run = true);
  // Stop the server whose data is in `dir` if one runs (fast, then SIGKILL) and remove the
  // folder: a server left by an aborted run too. Nothing to do when `dir` does not exist;
  // throws std::runtime_error if it is not a server's folder (it is not removed then).
  static void stop_and_remove(const std::string& dir);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  const std::string& dir() const { return dir_; }
  // The folder of the socket (the server's folder): libpq's host.
  const std::string& socket_dir() const { return dir_; }
  int port() const { return port_; }
  // "postgresql:///DBNAME?host=%2Ftmp%2Fhwca-pg-XXXXXX&port=PORT&user=hwca", for libpq and psql.
  std::string url(const std::string& dbname = "postgres") const;
  // A new empty database (t_<pid>_<counter>_<random>), its name; drop_database removes one
  // (closing its connections first).
  std::string create_database();
  void drop_database(const std::string& name);

  // Fast shutdown (clients are disconnected, transactions rolled back); waits until the
  // postmaster has exited. Does nothing when it is not running.
  void stop();
  // Start again on the same data and port; returns when it accepts connections.
  void start();
  // SIGKILL the postmaster and its processes (a crash: no shutdown checkpoint), and wait
  // until they are gone; start() then recovers from the WAL.
  void kill();
  bool running() const { return pid() > 0; }
  // The postmaster's (dir/data/postmaster.pid), -1 when it is not running.
  pid_t pid() const;

 private:
  struct Attached {};
  PostgresServer(Attached, const std::string& dir, int port);
  // initdb in dir_, then start on a random port, writing it to dir_/port.
  void init_and_start();
  // One attempt on port_: true when the server answers there.
  bool try_start(std::string& why);
  // Stop it and remove its folder, whatever fails.
  void discard() noexcept;
  // Wait for the postmaster this program started, once it has exited (or kill it).
  void reap();

  PostgresOptions options_;
  std::string dir_;
  int port_ = 0;
  bool owned_ = true;   // the destructor stops it and removes dir_
  pid_t creator_ = -1;  // the program that made the object (not a forked child of it)
  pid_t child_ = -1;    // the postmaster when this program started it (to reap it)
};

// Run statements that return no rows on the database at `url` (a test altering what hwca
// wrote); throws with the server's message.
void execute_sql(const std::string& url, const std::string& sql);

// The newest /usr/lib/postgresql/*/bin (postgres, initdb, psql); throws if there is none.
std::string postgres_bin_dir();

// One server for the whole test program: the ctest fixture's when HWCA_TEST_PG_DIR names its
// folder, else one started for this program on first use and removed at exit.
PostgresServer& shared_postgres();
// A new empty database on shared_postgres(), its URL; dropped when the program exits.
std::string fresh_database_url();

}  // namespace hwca::test
