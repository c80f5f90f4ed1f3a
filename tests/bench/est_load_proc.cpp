// hwca_est_load's readings of /proc (est_load_proc.hpp).
#include "est_load_proc.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace est_load {

double cpu_seconds_self() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double cpu_seconds_of_one(int pid) {
  std::string stat;
  if (pid <= 0) return -1;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  if (!std::getline(file, stat)) return -1;
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TcpCounters tcp_counters() {
  TcpCounters out;
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == "ListenDrops") out.listen_drops = std::stoll(value);
      if (name == "TCPSynRetrans") out.syn_retrans = std::stoll(value);
    }
  }
  return out;
}

MachineCpu machine_cpu() {
  MachineCpu out;
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {};
  if (!(in >> cpu) || cpu != "cpu") return out;
  for (auto& x : v) {
    if (!(in >> x)) return out;
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  // user nice system idle iowait irq softirq steal
  out.busy = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
  out.steal = static_cast<double>(v[7]) / tick;
  return out;
}

double cpu_seconds_of(const std::vector<int>& pids) {
  double sum = pids.empty() ? -1 : 0;
  for (int pid : pids) {
    const double one = cpu_seconds_of_one(pid);
    if (one < 0) return -1;
    sum += one;
  }
  return sum;
}

}  // namespace est_load
