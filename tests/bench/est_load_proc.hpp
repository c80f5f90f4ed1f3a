// hwca_est_load's readings of /proc over a window (tests/bench/est_load.cpp): its own CPU
// time, the servers', the whole machine's, and the host's TCP counters.
#pragma once

#include <vector>

namespace est_load {

// This process's CPU time (user + system), in seconds.
double cpu_seconds_self();

// utime + stime of a process, in seconds; negative if it cannot be read.
double cpu_seconds_of_one(int pid);

// The sum over several processes; negative if none is named or one cannot be read.
double cpu_seconds_of(const std::vector<int>& pids);

// Host-wide TCP counters (/proc/net/netstat, TcpExt): connections the kernel dropped because
// a listen queue was full, and SYNs sent again. Not this program's alone, but on loopback
// during a run they are mostly the server's and ours.
struct TcpCounters {
  long long listen_drops = -1, syn_retrans = -1;
};
TcpCounters tcp_counters();

// The whole machine's CPU time (/proc/stat, first line), in seconds: busy (user, nice,
// system, irq, softirq) and stolen by the hypervisor.
struct MachineCpu {
  double busy = -1, steal = -1;
};
MachineCpu machine_cpu();

}  // namespace est_load
