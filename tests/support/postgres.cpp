#include "support/postgres.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "support/log_tail.hpp"

namespace hwca::test {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Who initdb and postgres run as: the "postgres" user when we are root (they refuse root),
// else ourselves.
struct RunAs {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

RunAs run_as() {
  RunAs who;
  if (::geteuid() != 0) return who;
  passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error("running as root and there is no 'postgres' user to run initdb as");
  }
  return {true, pw->pw_uid, pw->pw_gid};
}

// Fork and exec argv as `who` in `cwd`, in a session of its own, stdout and stderr appended to
// `log`. `tied`: the child is killed when this thread ends (a test program that dies must not
// leave it behind). In the child only async-signal-safe work happens before exec.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, const std::string& cwd,
            const RunAs& who, bool tied) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setsid();  // a terminal's ^C is for the test program, not for its server
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(127);
  if (who.change &&
      (::setgroups(1, &who.gid) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0)) {
    ::_exit(126);
  }
  // After setuid, which clears the parent-death signal.
  if (tied) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
  }
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  ::execv(args[0], args.data());
  ::_exit(127);
}

// The parent-death signal follows the thread that forked, not the process: tie a child to
// us only from the main thread, which lives as long as the program.
bool on_main_thread() { return ::syscall(SYS_gettid) == ::getpid(); }

// State and parent of a process (/proc/PID/stat), nothing if there is no such process.
struct ProcStat {
  char state;
  pid_t ppid;
};

std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  size_t end = text.rfind(')');  // the command name may hold spaces and parentheses
  if (end == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(end + 1));
  ProcStat st{};
  if (!(rest >> st.state >> st.ppid)) return std::nullopt;
  return st;
}

// Running, not a zombie waiting for its parent (a dead process holds nothing).
bool alive(pid_t pid) {
  auto st = proc_stat(pid);
  return st && st->state != 'Z' && st->state != 'X';
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return found;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto st = proc_stat(static_cast<pid_t>(pid));
    if (st && st->ppid == parent) found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return found;
}

// Poll until none of `pids` is alive, for up to `limit`; true when they are all gone.
bool wait_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (true) {
    bool any = false;
    for (pid_t p : pids) any = any || alive(p);
    if (!any) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Gone from /proc: reaped by its parent, not only dead.
bool wait_reaped(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (::kill(pid, 0) == 0 || errno != ESRCH) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string percent_encoded(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// postgres works in its data folder: every path it is given must be absolute.
std::string absolute(const std::string& path) {
  std::string normal = fs::absolute(path).lexically_normal().string();
  if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string quoted_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

unsigned random_number() {
  static std::mutex mutex;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::lock_guard lock(mutex);
  return rng();
}

}  // namespace

void execute_sql(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to " + url + ": " + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error(sql + ": " + PQerrorMessage(conn.get()));
  }
}

std::string postgres_bin_dir() {
  const fs::path root = "/usr/lib/postgresql";
  int newest = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int version = std::stoi(name);
    if (version > newest && ::access((entry.path() / "bin/postgres").c_str(), X_OK) == 0) {
      newest = version;
    }
  }
  if (newest < 0) {
    throw std::runtime_error(
        "no PostgreSQL server in /usr/lib/postgresql/*/bin "
        "(scripts/setup-deps.sh test installs Debian's postgresql)");
  }
  return (root / std::to_string(newest) / "bin").string();
}

PostgresServer::PostgresServer(PostgresOptions options)
    : options_(std::move(options)), creator_(::getpid()) {
  std::string tmpl = options_.parent + "/hwca-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp in " + options_.parent + " failed");
  }
  dir_ = absolute(tmpl);
  try {
    init_and_start();
  } catch (...) {
    discard();
    throw;
  }
}

PostgresServer::PostgresServer(Attached, const std::string& dir, int port)
    : dir_(absolute(dir)), port_(port), owned_(false), creator_(::getpid()) {}

std::unique_ptr<PostgresServer> PostgresServer::start_detached(const std::string& dir,
                                                               PostgresOptions options) {
  if (::mkdir(dir.c_str(), 0700) != 0) {
    throw std::runtime_error("cannot make " + dir + " (it must not exist yet)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(Attached{}, dir, 0));
  server->options_ = std::move(options);
  try {
    server->init_and_start();
    // attach() starts it again as it was made.
    if (server->options_.fsync) std::ofstream(server->dir_ + "/fsync") << "on\n";
  } catch (...) {
    server->discard();
    throw;
  }
  return server;
}

std::unique_ptr<PostgresServer> PostgresServer::attach(const std::string& dir, bool must_run) {
  std::ifstream in(dir + "/port");
  int port = 0;
  if (!(in >> port) || port <= 0) {
    throw std::runtime_error("no PostgreSQL server in " + dir + " (no port file)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(Attached{}, dir, port));
  server->options_.fsync = ::access((dir + "/fsync").c_str(), F_OK) == 0;
  if (!must_run) return server;
  std::string conninfo = server->url() + "&connect_timeout=5";
  if (!server->running() || PQping(conninfo.c_str()) != PQPING_OK) {
    throw std::runtime_error("no PostgreSQL server answers in " + dir + " on port " +
                             std::to_string(port) + ": " + log_tail(dir + "/log"));
  }
  return server;
}

void PostgresServer::stop_and_remove(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  // What this class makes: the cluster, or at least initdb's log (initdb may have been
  // stopped early). Anything else is not ours to remove.
  if (!fs::exists(dir + "/data/PG_VERSION", ec) && !fs::exists(dir + "/initdb.log", ec) &&
      !fs::is_empty(dir, ec)) {
    throw std::runtime_error(dir + " is not a PostgreSQL server's folder: not removed");
  }
  PostgresServer(Attached{}, dir, 0).discard();
}

PostgresServer::~PostgresServer() {
  // A forked child that exits normally must not stop its parent's server.
  if (owned_ && ::getpid() == creator_) discard();
}

void PostgresServer::discard() noexcept {
  try {
    stop();
  } catch (const std::exception&) {
    // processes that outlive SIGKILL: nothing more to do
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PostgresServer::init_and_start() {
  // A Unix socket's path holds at most 107 bytes: dir/.s.PGSQL.NNNNN.
  if (dir_.size() + 16 > sizeof(sockaddr_un{}.sun_path) - 1) {
    throw std::runtime_error(dir_ + " is too long for a Unix socket path in it");
  }
  RunAs who = run_as();
  if (who.change && ::chown(dir_.c_str(), who.uid, who.gid) != 0) {
    throw std::runtime_error("cannot give " + dir_ + " to the postgres user");
  }
  std::string log = dir_ + "/initdb.log";
  pid_t initdb = spawn({postgres_bin_dir() + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U",
                        "hwca", "--no-sync", "-E", "UTF8", "--locale=C"},
                       log, dir_, who, on_main_thread());
  int status = 0;
  if (initdb < 0 || ::waitpid(initdb, &status, 0) != initdb || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    throw std::runtime_error("initdb failed in " + dir_ + ": " + log_tail(log));
  }
  // The port number only names the socket file in our own folder, so no other server can
  // hold it; another attempt is for a start that failed anyway.
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = 20000 + static_cast<int>(random_number() % 40001);
    if (try_start(why)) {
      std::ofstream(dir_ + "/port") << port_ << "\n";
      return;
    }
  }
  throw std::runtime_error("PostgreSQL did not start in " + dir_ + ": " + why);
}

bool PostgresServer::try_start(std::string& why) {
  std::string log = dir_ + "/log";
  std::string port = std::to_string(port_);
  // Its socket in dir_, no TCP (-h '').
  std::vector<std::string> argv = {
      postgres_bin_dir() + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p", port, "-h", ""};
  if (!options_.fsync) {
    argv.insert(argv.end(), {"-c", "fsync=off"});
  }
  child_ = spawn(argv, log, dir_, run_as(), owned_ && on_main_thread());
  if (child_ < 0) {
    why = "fork failed";
    return false;
  }
  std::string conninfo = url() + "&connect_timeout=2";
  // Long enough for crash recovery after kill().
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (true) {
    int status = 0;
    if (::waitpid(child_, &status, WNOHANG) == child_) {
      child_ = -1;
      why = "postgres exited on port " + std::to_string(port_) + ": " + log_tail(log);
      return false;
    }
    // PQPING_REJECT: up but not accepting yet (starting, recovering).
    if (PQping(conninfo.c_str()) == PQPING_OK) return true;
    if (Clock::now() > deadline) {
      kill();
      why = "postgres did not accept connections within 60 s: " + log_tail(log);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string PostgresServer::url(const std::string& dbname) const {
  return "postgresql:///" + percent_encoded(dbname) + "?host=" + percent_encoded(dir_) +
         "&port=" + std::to_string(port_) + "&user=hwca";
}

std::string PostgresServer::create_database() {
  static std::atomic<unsigned> counter{0};
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%06x", random_number() & 0xffffff);
  std::string name =
      "t_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" + suffix;
  execute_sql(url(), "CREATE DATABASE " + quoted_identifier(name));
  return name;
}

void PostgresServer::drop_database(const std::string& name) {
  execute_sql(url(), "DROP DATABASE IF EXISTS " + quoted_identifier(name) + " WITH (FORCE)");
}

pid_t PostgresServer::pid() const {
  std::ifstream in(dir_ + "/data/postmaster.pid");
  pid_t postmaster = -1;
  if (!(in >> postmaster) || postmaster <= 0 || !alive(postmaster)) return -1;
  // The file may be a crashed server's, its number reused since: the postmaster works in
  // its data folder.
  std::error_code ec;
  fs::path cwd = fs::read_symlink("/proc/" + std::to_string(postmaster) + "/cwd", ec);
  if (ec || !fs::equivalent(cwd, dir_ + "/data", ec) || ec) return -1;
  return postmaster;
}

void PostgresServer::stop() {
  pid_t postmaster = pid();
  if (postmaster > 0) {
    ::kill(postmaster, SIGINT);  // fast shutdown
    if (!wait_gone({postmaster}, std::chrono::seconds(30))) {
      ::kill(postmaster, SIGQUIT);  // immediate shutdown
      if (!wait_gone({postmaster}, std::chrono::seconds(5))) kill();
    }
  }
  reap();
}

void PostgresServer::kill() {
  pid_t postmaster = pid();
  if (postmaster > 0) {
    // Stopped, the postmaster forks no process we would miss; its processes are each in a
    // session of their own, so they are found by parent, not by group.
    ::kill(postmaster, SIGSTOP);
    std::vector<pid_t> all = children_of(postmaster);
    all.push_back(postmaster);
    for (pid_t p : all) ::kill(p, SIGKILL);
    if (!wait_gone(all, std::chrono::seconds(10))) {
      throw std::runtime_error("PostgreSQL's processes outlived SIGKILL for 10 s");
    }
    // A postmaster another program started (hwca_pg_fixture's) is a zombie until init reaps
    // it, and a new postmaster takes its pid, still in postmaster.pid, for a live one.
    if (child_ <= 0 && !wait_reaped(postmaster, std::chrono::seconds(10))) {
      throw std::runtime_error("PostgreSQL's killed postmaster was not reaped in 10 s");
    }
  }
  reap();
}

void PostgresServer::reap() {
  if (child_ <= 0) return;
  // Still starting (no postmaster.pid yet) when a start gives up on it.
  if (alive(child_)) ::kill(child_, SIGKILL);
  ::waitpid(child_, nullptr, 0);
  child_ = -1;
}

void PostgresServer::start() {
  if (running()) return;
  std::string why;
  if (!try_start(why)) {
    throw std::runtime_error("PostgreSQL did not start again in " + dir_ + ": " + why);
  }
}

namespace {

// The program's server and the databases fresh_database_url made on it: on the fixture's
// server they are dropped at exit (its folder lives until pg.stop, a database takes ~8 MB).
struct Shared {
  std::mutex mutex;
  std::unique_ptr<PostgresServer> server;
  bool attached = false;
  std::vector<std::string> made;
  pid_t creator = ::getpid();

  ~Shared() {
    if (!attached || ::getpid() != creator || !server->running()) return;
    for (const auto& name : made) {
      try {
        server->drop_database(name);
      } catch (const std::exception&) {
        // best effort: pg.stop removes the whole server
      }
    }
  }
};

Shared& shared() {
  static Shared instance;
  return instance;
}

}  // namespace

PostgresServer& shared_postgres() {
  Shared& s = shared();
  std::lock_guard lock(s.mutex);
  if (!s.server) {
    const char* dir = std::getenv("HWCA_TEST_PG_DIR");
    if (dir != nullptr && *dir != '\0') {
      s.server = PostgresServer::attach(dir);
      s.attached = true;
    } else {
      s.server = std::make_unique<PostgresServer>();
    }
  }
  return *s.server;
}

std::string fresh_database_url() {
  PostgresServer& server = shared_postgres();
  std::string name = server.create_database();
  Shared& s = shared();
  std::lock_guard lock(s.mutex);
  s.made.push_back(name);
  return server.url(name);
}

}  // namespace hwca::test
