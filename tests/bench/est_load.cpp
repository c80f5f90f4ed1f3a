// hwca_est_load: a load generator for `hwca serve` (EST over HTTPS, RFC 7030), for
// tests/bench/est_bench.sh. Each of --concurrency threads owns one HTTPS client with one
// node's client certificate (mutual TLS, cpp-httplib's SSLClient) and sends requests back
// to back for a warm-up and then a fixed window:
//
//   --path simplereenroll   POST /.well-known/est/simplereenroll, the node's own request
//                           (node-I.csr.b64) as application/pkcs10 (the default)
//   --path /healthz         GET /healthz: the cost of TLS and HTTP alone
//
// over one keep-alive connection per thread (opened before the warm-up), or a new TLS
// connection (full handshake, no session resumption) for every request with --new-connection.
//
// Counted in the window: the requests that completed in it (their latency from the call to
// the full reply, steady_clock). Every reply other than 200, and every transport error, is a
// failure at any time (warm-up and the request in flight at the end included): the first
// few are printed and any failure makes the exit status 1. Every 200 is checked cheaply
// (simplereenroll: a non-empty body of base64 characters; healthz: "ok: ..."); the first reply of
// each thread, and every Nth with --verify-every N, fully: the PKCS#7 certs-only body
// decodes to exactly one certificate, issued and signed by --ca, for the subject of the
// node's client certificate and the public key of its request, usable for client auth.
//
// Several servers (instances of one CA): --url given more than once, or a comma-separated
// list; thread I talks to URL I modulo their number, and the server CPU is the sum over every
// --server-pid. The output then also gives how many servers and each one's requests/s.
//
// Output: one line for the phase (stdout; on stderr with --json, which prints one JSON
// object on stdout instead). `ok_total` counts every 200, warm-up and tail included: what
// the server issued (est_bench.sh checks it against the audit log). Also read from /proc over
// the window: this program's CPU time, the server's (--server-pid), the whole machine's (and
// so what other processes took, and what the hypervisor stole), and the host's TCP
// connections dropped by a full listen queue and SYNs sent again (/proc/net/netstat).
//
// Exit status: 0; 1 if a request failed or a reply did not check; 2 for a usage or setup
// error.
//
// The nodes and the checks of the replies are in est_load_clients.cpp; the readings of /proc
// in est_load_proc.cpp.
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "est_load_clients.hpp"
#include "est_load_proc.hpp"

namespace {

using est_load::Client;
using est_load::cpu_seconds_of;
using est_load::cpu_seconds_self;
using est_load::load_clients;
using est_load::looks_like_base64;
using est_load::machine_cpu;
using est_load::MachineCpu;
using est_load::read_file;
using est_load::setup_error;
using est_load::tcp_counters;
using est_load::TcpCounters;
using est_load::verify_enrollment;
using est_load::X509Ptr;

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  int port = 0;
};

struct Options {
  std::vector<Target> targets;  // thread I uses targets[I % size]
  std::string ca_file;
  std::string clients_dir;
  int concurrency = 32;
  double seconds = 10;
  double warmup = 1;
  bool new_connection = false;
  std::string path = "simplereenroll";
  bool json = false;
  long verify_every = 0;  // 0: the first reply of each thread only
  std::vector<int> server_pids;
  std::string label;  // a name for the phase in the output
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "hwca_est_load: " << message << " (--help for the options)\n";
  std::exit(2);
}

void print_usage() {
  std::cout <<
      R"(usage: hwca_est_load --url HOST:PORT --ca CA.pem --clients DIR [options]

  --url HOST:PORT      the EST server (HOST must be in its certificate's SANs); several
                       (repeated, or HOST:PORT,HOST:PORT): thread I uses URL I modulo N
  --ca FILE            the CA certificate (PEM): verifies the server and the replies
  --clients DIR        node-1.pem/.key/.csr.b64, node-2..., as est_bench.sh makes them;
                       thread I uses node I (modulo how many there are)
  --concurrency N      client threads, one connection each (default 32)
  --seconds S          measured window (default 10)
  --warmup S           requests before the window, not counted (default 1)
  --new-connection     a new TLS connection (full handshake) for every request
  --path P             simplereenroll (default), simpleenroll, or a GET path such as /healthz
  --verify-every N     also fully verify every Nth reply of each thread (default: first only)
  --server-pid PID     report the server's CPU time over the window (/proc/PID/stat);
                       repeated: the sum over the servers
  --label TEXT         name of the phase in the output
  --json               one JSON object on stdout (the text line goes to stderr)
)";
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::vector<std::string> urls;
  auto number = [](const std::string& name, const char* text, double lo, double hi) {
    char* end = nullptr;
    double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= lo && v <= hi)) {
      usage_error(name + " '" + text + "' is not a number in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
    }
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      print_usage();
      std::exit(0);
    } else if (a == "--url") {
      std::istringstream list(value());
      for (std::string url; std::getline(list, url, ',');) urls.push_back(url);
    } else if (a == "--ca") {
      o.ca_file = value();
    } else if (a == "--clients") {
      o.clients_dir = value();
    } else if (a == "--concurrency") {
      o.concurrency = static_cast<int>(number(a, value(), 1, 4096));
    } else if (a == "--seconds") {
      o.seconds = number(a, value(), 0.01, 86400);
    } else if (a == "--warmup") {
      o.warmup = number(a, value(), 0, 3600);
    } else if (a == "--new-connection") {
      o.new_connection = true;
    } else if (a == "--path") {
      o.path = value();
    } else if (a == "--verify-every") {
      o.verify_every = static_cast<long>(number(a, value(), 0, 1e9));
    } else if (a == "--server-pid") {
      o.server_pids.push_back(static_cast<int>(number(a, value(), 1, 1e9)));
    } else if (a == "--label") {
      o.label = value();
    } else if (a == "--json") {
      o.json = true;
    } else {
      usage_error("unknown argument '" + a + "'");
    }
  }
  if (urls.empty()) usage_error("--url wants HOST:PORT");
  for (std::string url : urls) {
    if (url.rfind("https://", 0) == 0) url = url.substr(8);
    if (auto slash = url.find('/'); slash != std::string::npos) url = url.substr(0, slash);
    auto colon = url.rfind(':');
    if (url.empty() || colon == std::string::npos || colon == 0) {
      usage_error("--url wants HOST:PORT");
    }
    Target t{url.substr(0, colon), 0};
    if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
      t.host = t.host.substr(1, t.host.size() - 2);
    }
    t.port = static_cast<int>(number("--url's port", url.c_str() + colon + 1, 1, 65535));
    o.targets.push_back(std::move(t));
  }
  if (o.ca_file.empty()) usage_error("--ca is required");
  if (o.clients_dir.empty()) usage_error("--clients is required");
  if (o.path == "simplereenroll" || o.path == "simpleenroll") {
    o.path = "/.well-known/est/" + o.path;
  } else if (o.path.empty() || o.path.front() != '/') {
    usage_error("--path: simplereenroll, simpleenroll or an absolute path such as /healthz");
  }
  if (o.label.empty()) {
    o.label = o.path.substr(o.path.rfind('/') + 1) +
              (o.new_connection ? " new-connection" : " keep-alive");
  }
  return o;
}

bool is_enroll(const std::string& path) { return path.rfind("/.well-known/est/", 0) == 0; }

struct alignas(64) ThreadResult {
  std::vector<double> latencies_ms;  // requests completed in the window
  uint64_t ok_total = 0;             // every 200, warm-up and tail included
  uint64_t failures = 0;
  uint64_t failures_in_window = 0;
  uint64_t bad_replies = 0;  // 200s that did not check
  uint64_t verified = 0;
  std::atomic<uint64_t> connections{0};
  std::vector<std::string> messages;  // the first few failures
};

struct Shared {
  const Options* opt = nullptr;
  X509* ca = nullptr;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point start, window_start, window_end;
};

void note(ThreadResult& r, const std::string& what) {
  if (r.messages.size() < 5) r.messages.push_back(what);
}

void run_thread(const Client& c, const Target& target, Shared& s, ThreadResult& r) {
  const Options& o = *s.opt;
  httplib::SSLClient cli(target.host, target.port, c.cert.get(), c.key.get());
  // The server is verified against --ca alone: given a store instead of a file, this
  // version of cpp-httplib would also load the system's CA bundle into it (about 50 ms of
  // CPU for each client, and trust the public CAs besides).
  cli.set_ca_cert_path(o.ca_file);
  cli.enable_server_certificate_verification(true);
  cli.set_keep_alive(!o.new_connection);
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(10);
  cli.set_read_timeout(30);
  cli.set_write_timeout(30);
  // No compression: the server would compress text/plain (healthz) for a client that asks.
  cli.set_decompress(false);
  cli.set_default_headers({{"Accept-Encoding", "identity"}});
  cli.set_socket_options([&r](socket_t) { r.connections.fetch_add(1, std::memory_order_relaxed); });
  const bool enroll = is_enroll(o.path);
  r.latencies_ms.reserve(static_cast<size_t>(std::max(1000.0, o.seconds * 4000.0 / o.concurrency)));

  // Kept alive, the connection is opened before the warm-up (by one GET /healthz, not
  // counted), so that no measured request pays for it, nor for a SYN the server's short
  // listen queue dropped (retried after 1 s, then 3 s).
  if (!o.new_connection) {
    auto first = cli.Get("/healthz");
    if (!first || first->status != 200) {
      ++r.failures;
      note(r, c.name + ": connecting: " +
                  (first ? "HTTP " + std::to_string(first->status)
                         : httplib::to_string(first.error())));
    }
  }
  s.ready.fetch_add(1);
  while (!s.go.load(std::memory_order_acquire))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_until(s.start);

  uint64_t ok_index = 0;
  while (Clock::now() < s.window_end) {
    const auto t0 = Clock::now();
    auto res = enroll ? cli.Post(o.path, c.csr_body, "application/pkcs10") : cli.Get(o.path);
    const auto t1 = Clock::now();
    const bool in_window = t1 >= s.window_start && t1 < s.window_end;
    if (!res) {
      ++r.failures;
      if (in_window) ++r.failures_in_window;
      note(r, c.name + ": " + httplib::to_string(res.error()) +
                  (res.error() == httplib::Error::SSLServerVerification
                       ? " (verify result " + std::to_string(cli.get_openssl_verify_result()) + ")"
                       : ""));
      continue;
    }
    if (res->status != 200) {
      ++r.failures;
      if (in_window) ++r.failures_in_window;
      std::string body = res->body.substr(0, 200);
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
      note(r, c.name + ": HTTP " + std::to_string(res->status) + ": " + body);
      continue;
    }
    ++r.ok_total;
    if (in_window)
      r.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    const bool full = ok_index == 0 || (o.verify_every > 0 && ok_index % o.verify_every == 0);
    ++ok_index;
    std::string why;
    if (enroll) {
      if (!looks_like_base64(res->body)) {
        why = "a 200 whose body is not base64";
      } else if (full) {
        why = verify_enrollment(res->body, c, s.ca);
        ++r.verified;
      }
    } else if (o.path == "/healthz") {
      if (res->body.rfind("ok", 0) != 0) why = "healthz did not answer ok";
      if (full) ++r.verified;
    }
    if (!why.empty()) {
      ++r.bad_replies;
      note(r, c.name + ": " + why);
    }
  }
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const Options opt = parse_options(argc, argv);

  std::string ca_pem;
  if (!read_file(opt.ca_file, ca_pem)) setup_error("cannot read --ca " + opt.ca_file);
  X509Ptr ca;
  {
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    ca.reset(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
  }
  if (!ca) setup_error(opt.ca_file + " holds no PEM certificate");
  const std::vector<Client> clients = load_clients(opt.clients_dir);

  Shared shared;
  shared.opt = &opt;
  shared.ca = ca.get();
  std::vector<ThreadResult> results(static_cast<size_t>(opt.concurrency));
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (int i = 0; i < opt.concurrency; ++i) {
    threads.emplace_back(run_thread, std::cref(clients[static_cast<size_t>(i) % clients.size()]),
                         std::cref(opt.targets[static_cast<size_t>(i) % opt.targets.size()]),
                         std::ref(shared), std::ref(results[static_cast<size_t>(i)]));
  }
  while (shared.ready.load() < opt.concurrency)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto secs = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  shared.start = Clock::now() + std::chrono::milliseconds(20);
  shared.window_start = shared.start + secs(opt.warmup);
  shared.window_end = shared.window_start + secs(opt.seconds);
  shared.go.store(true, std::memory_order_release);

  std::this_thread::sleep_until(shared.window_start);
  const double cpu0 = cpu_seconds_self(), server0 = cpu_seconds_of(opt.server_pids);
  const TcpCounters tcp0 = tcp_counters();
  const MachineCpu machine0 = machine_cpu();
  const auto conn0 = [&] {
    uint64_t n = 0;
    for (auto& r : results) n += r.connections.load();
    return n;
  }();
  std::this_thread::sleep_until(shared.window_end);
  const double cpu1 = cpu_seconds_self(), server1 = cpu_seconds_of(opt.server_pids);
  const TcpCounters tcp1 = tcp_counters();
  const MachineCpu machine1 = machine_cpu();
  const long long listen_drops = tcp1.listen_drops - tcp0.listen_drops;
  const long long syn_retrans = tcp1.syn_retrans - tcp0.syn_retrans;
  uint64_t conn1 = 0;
  for (auto& r : results) conn1 += r.connections.load();
  for (auto& t : threads) t.join();
  const auto finished = Clock::now();

  std::vector<double> all;
  std::vector<size_t> per_target(opt.targets.size(), 0);  // requests in the window
  for (size_t i = 0; i < results.size(); ++i) {
    per_target[i % per_target.size()] += results[i].latencies_ms.size();
  }
  uint64_t ok_total = 0, failures = 0, failures_window = 0, bad = 0, verified = 0, connections = 0;
  std::vector<std::string> messages;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    ok_total += r.ok_total;
    failures += r.failures;
    failures_window += r.failures_in_window;
    bad += r.bad_replies;
    verified += r.verified;
    connections += r.connections.load();
    for (auto& m : r.messages) {
      if (messages.size() < 10) messages.push_back(m);
    }
  }
  std::sort(all.begin(), all.end());
  const double window = opt.seconds;
  const double rate = static_cast<double>(all.size()) / window;
  const double p50 = percentile(all, 0.50), p90 = percentile(all, 0.90),
               p99 = percentile(all, 0.99), max = all.empty() ? 0 : all.back();
  const double client_cores = (cpu1 - cpu0) / window;
  const bool have_server = server0 >= 0 && server1 >= 0;
  const double server_cores = have_server ? (server1 - server0) / window : -1;
  const double server_ms_per_req =
      have_server && !all.empty() ? (server1 - server0) * 1000 / static_cast<double>(all.size())
                                  : -1;
  // What the rest of the machine used meanwhile: busy time less the server's and ours.
  const double machine_cores = (machine1.busy - machine0.busy) / window;
  const double steal_cores = (machine1.steal - machine0.steal) / window;
  const double other_cores = machine_cores - client_cores - (have_server ? server_cores : 0.0);
  const double tail = std::chrono::duration<double>(finished - shared.window_end).count();

  char line[1024];
  std::snprintf(
      line, sizeof line,
      "%-30s c=%-3d %8zu requests in %.2f s = %8.1f req/s; ms p50 %.2f p90 %.2f "
      "p99 %.2f max %.2f; failures %llu; ok total %llu; verified %llu; "
      "connections %llu (%llu in window, %lld SYNs dropped by a full listen queue, "
      "%lld sent again); client cpu %.2f cores",
      opt.label.c_str(), opt.concurrency, all.size(), window, rate, p50, p90, p99, max,
      static_cast<unsigned long long>(failures), static_cast<unsigned long long>(ok_total),
      static_cast<unsigned long long>(verified), static_cast<unsigned long long>(connections),
      static_cast<unsigned long long>(conn1 - conn0), listen_drops, syn_retrans, client_cores);
  std::string text = line;
  if (opt.targets.size() > 1) {
    text += "; " + std::to_string(opt.targets.size()) + " servers, req/s";
    for (size_t n : per_target) {
      std::snprintf(line, sizeof line, " %.1f", static_cast<double>(n) / window);
      text += line;
    }
  }
  if (have_server) {
    std::snprintf(line, sizeof line, "; server cpu %.2f cores, %.3f ms/request", server_cores,
                  server_ms_per_req);
    text += line;
  }
  std::snprintf(line, sizeof line, "; machine busy %.2f cores (others %.2f), stolen %.2f",
                machine_cores, other_cores, steal_cores);
  text += line;
  (opt.json ? std::cerr : std::cout) << text << std::endl;
  for (auto& m : messages) std::cerr << "hwca_est_load: failure: " << m << "\n";
  if (failures > 0 || bad > 0) {
    std::cerr << "hwca_est_load: " << failures << " failed requests, " << bad
              << " replies that did not check\n";
  }

  if (opt.json) {
    std::ostringstream j;
    j.setf(std::ios::fixed);
    j.precision(3);
    j << "{\"label\":" << json_string(opt.label) << ",\"path\":" << json_string(opt.path)
      << ",\"new_connection\":" << (opt.new_connection ? "true" : "false")
      << ",\"concurrency\":" << opt.concurrency << ",\"clients\":" << clients.size()
      << ",\"requests\":" << all.size() << ",\"seconds\":" << window << ",\"rps\":" << rate
      << ",\"p50_ms\":" << p50 << ",\"p90_ms\":" << p90 << ",\"p99_ms\":" << p99
      << ",\"max_ms\":" << max << ",\"failures\":" << failures
      << ",\"failures_in_window\":" << failures_window << ",\"bad_replies\":" << bad
      << ",\"ok_total\":" << ok_total << ",\"verified\":" << verified
      << ",\"connections\":" << connections << ",\"connections_in_window\":" << (conn1 - conn0)
      << ",\"listen_drops\":" << listen_drops << ",\"syn_retransmits\":" << syn_retrans
      << ",\"client_cpu_cores\":" << client_cores << ",\"machine_cpu_cores\":" << machine_cores
      << ",\"other_cpu_cores\":" << other_cores << ",\"steal_cores\":" << steal_cores
      << ",\"tail_seconds\":" << tail;
    if (opt.targets.size() > 1) {
      j << ",\"servers\":" << opt.targets.size() << ",\"rps_per_server\":[";
      for (size_t i = 0; i < per_target.size(); ++i) {
        j << (i ? "," : "") << static_cast<double>(per_target[i]) / window;
      }
      j << "]";
    }
    if (have_server) {
      j << ",\"server_cpu_cores\":" << server_cores
        << ",\"server_cpu_ms_per_request\":" << server_ms_per_req;
    }
    j << "}";
    std::cout << j.str() << std::endl;
  }
  return failures > 0 || bad > 0 ? 1 : 0;
}
