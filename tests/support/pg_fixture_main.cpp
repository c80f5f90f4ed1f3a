// hwca_pg_fixture: the PostgreSQL server that ctest's "postgres" fixture shares between test
// programs (tests/CMakeLists.txt: pg.start, pg.stop; tests/support/postgres.hpp).
//   hwca_pg_fixture start DIR   initdb and start a server in DIR (its socket there, its port
//                               in DIR/port), leave it running; a server an aborted run left
//                               in DIR is stopped and removed first
//   hwca_pg_fixture stop DIR    stop it (fast) and remove DIR
#include <cstdio>
#include <exception>
#include <string>

#include "support/postgres.hpp"

int main(int argc, char** argv) {
  std::string command = argc == 3 ? argv[1] : "";
  if (command != "start" && command != "stop") {
    std::fprintf(stderr, "usage: hwca_pg_fixture start|stop DIR\n");
    return 2;
  }
  const std::string dir = argv[2];
  try {
    hwca::test::PostgresServer::stop_and_remove(dir);
    if (command == "start") {
      auto server = hwca::test::PostgresServer::start_detached(dir);
      std::printf("hwca_pg_fixture: PostgreSQL (%s) in %s, port %d, postmaster %d\n",
                  hwca::test::postgres_bin_dir().c_str(), dir.c_str(), server->port(),
                  static_cast<int>(server->pid()));
    } else {
      std::printf("hwca_pg_fixture: %s stopped and removed\n", dir.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca_pg_fixture %s: %s\n", command.c_str(), e.what());
    return 1;
  }
  return 0;
}
