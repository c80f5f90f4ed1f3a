// hwca_pg_fixture: a PostgreSQL server for tests and benchmarks (tests/support/postgres.hpp).
// ctest's "postgres" fixture shares one between test programs (tests/CMakeLists.txt: pg.start,
// pg.stop); shell tests and tests/bench start their own with it.
//   hwca_pg_fixture start DIR [--fsync]   initdb and start a server in DIR (its socket there,
//                               its port in DIR/port), leave it running; a server an aborted
//                               run left in DIR is stopped and removed first. --fsync: keep
//                               fsync on (benchmarks: what production pays), off by default
//   hwca_pg_fixture restart DIR  stop the server in DIR (fast: clients disconnected) and
//                               start it again on the same data and port
//   hwca_pg_fixture kill DIR     SIGKILL it (a crash); `restart` then recovers from the WAL
//   hwca_pg_fixture stop DIR     stop it (fast) and remove DIR
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "support/postgres.hpp"

namespace {

int usage() {
  std::fprintf(stderr, "usage: hwca_pg_fixture start DIR [--fsync] | restart DIR | kill DIR | "
                       "stop DIR\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string command = argv[1];
  const std::string dir = argv[2];
  const bool fsync = argc == 4 && std::strcmp(argv[3], "--fsync") == 0;
  if (argc > 4 || (argc == 4 && (command != "start" || !fsync))) return usage();
  try {
    if (command == "start") {
      hwca::test::PostgresServer::stop_and_remove(dir);
      hwca::test::PostgresOptions options;
      options.fsync = fsync;
      auto server = hwca::test::PostgresServer::start_detached(dir, options);
      std::printf("hwca_pg_fixture: PostgreSQL (%s) in %s, port %d, postmaster %d%s\n",
                  hwca::test::postgres_bin_dir().c_str(), dir.c_str(), server->port(),
                  static_cast<int>(server->pid()), fsync ? ", fsync on" : "");
    } else if (command == "restart" || command == "kill") {
      auto server = hwca::test::PostgresServer::attach(dir, /*must_run=*/command == "kill");
      if (command == "kill") {
        server->kill();
      } else {
        server->stop();
        server->start();
      }
      std::printf("hwca_pg_fixture: %s %s\n", dir.c_str(),
                  command == "kill" ? "killed" : "restarted");
    } else if (command == "stop") {
      hwca::test::PostgresServer::stop_and_remove(dir);
      std::printf("hwca_pg_fixture: %s stopped and removed\n", dir.c_str());
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca_pg_fixture %s: %s\n", command.c_str(), e.what());
    return 1;
  }
  return 0;
}
