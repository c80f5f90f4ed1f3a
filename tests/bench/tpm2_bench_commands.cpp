#include "bench/tpm2_bench_commands.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <tss2/tss2_tpm2_types.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "bench/bench_report.hpp"
#include "bench/tpm2_bench_paths.hpp"

extern char** environ;

namespace hwca::bench {
namespace {

constexpr std::string_view kSending = "Sending command with TPM_CC 0x";
constexpr int kMoreSignatures = 4;

std::string cc_name(uint32_t cc) {
  static const std::map<uint32_t, const char*> names{
      {TPM2_CC_Startup, "Startup"},
      {TPM2_CC_GetCapability, "GetCapability"},
      {TPM2_CC_TestParms, "TestParms"},
      {TPM2_CC_CreatePrimary, "CreatePrimary"},
      {TPM2_CC_Create, "Create"},
      {TPM2_CC_CreateLoaded, "CreateLoaded"},
      {TPM2_CC_Load, "Load"},
      {TPM2_CC_LoadExternal, "LoadExternal"},
      {TPM2_CC_FlushContext, "FlushContext"},
      {TPM2_CC_ReadPublic, "ReadPublic"},
      {TPM2_CC_Sign, "Sign"},
      {TPM2_CC_Hash, "Hash"},
      {TPM2_CC_HashSequenceStart, "HashSequenceStart"},
      {TPM2_CC_SequenceUpdate, "SequenceUpdate"},
      {TPM2_CC_SequenceComplete, "SequenceComplete"},
      {TPM2_CC_ECC_Parameters, "ECC_Parameters"},
      {TPM2_CC_GetRandom, "GetRandom"},
      {TPM2_CC_StartAuthSession, "StartAuthSession"},
      {TPM2_CC_ContextSave, "ContextSave"},
      {TPM2_CC_ContextLoad, "ContextLoad"},
      {TPM2_CC_EvictControl, "EvictControl"},
      {TPM2_CC_VerifySignature, "VerifySignature"},
  };
  auto it = names.find(cc);
  if (it != names.end()) return it->second;
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", cc);
  return buf;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

std::string folder_of(const std::string& path) { return path.substr(0, path.rfind('/')); }

void marker(const std::string& step, int divisor = 1) {
  std::fprintf(stderr, "@@step %d %s\n", divisor, step.c_str());
}

}  // namespace

void StepCommands::add(uint32_t cc) {
  for (auto& [code, times] : codes) {
    if (code == cc) {
      ++times;
      return;
    }
  }
  codes.emplace_back(cc, 1);
}

int StepCommands::total() const {
  int n = 0;
  for (const auto& [cc, times] : codes) n += times;
  return n;
}

int commands_child(const std::string& tcti, const std::string& key_file) {
  const std::string message(256, 'm');
  std::span<const uint8_t> msg(reinterpret_cast<const uint8_t*>(message.data()), message.size());
  try {
    for (SignPath path : {SignPath::provider, SignPath::openssl, SignPath::signer}) {
      std::string name = sign_path_name(path);
      marker(name + ": open (ESYS context, key file read and loaded)");
      auto session = open_sign_session(path, tcti, key_file);
      marker(name + ": first signature");
      session->sign(msg);
      marker(name + ": each further signature", kMoreSignatures);
      for (int i = 0; i < kMoreSignatures; ++i) session->sign(msg);
      marker(name + ": close (key flushed, ESYS context finalised)");
      session.reset();
    }
    for (MakePath path : {MakePath::hwca, MakePath::openssl}) {
      std::string name = make_path_name(path);
      marker(name + ": open the ESYS context");
      auto maker = open_key_maker(path, tcti);
      marker(name + ": make an ec-p256 key file");
      maker->make(tokens::KeyType::ec_p256, folder_of(key_file) + "/commands-" +
                                                std::to_string(static_cast<int>(path)) + ".pem");
      maker.reset();  // sends nothing: the maker keeps nothing loaded
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\n@@fail %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "@@end\n");
  return 0;
}

std::vector<StepCommands> count_commands(const std::string& tcti, const std::string& key_file) {
  const std::string log = folder_of(key_file) + "/commands-trace.log";
  std::vector<std::string> args{self_exe(), "--commands-child", tcti, key_file};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env{"TSS2_LOG=all+NONE,tcti+debug"};
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("TSS2_LOG=") && !entry.starts_with("TSS2_LOGFILE=")) {
      env.emplace_back(entry);
    }
  }
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  int status = 0;
  ::waitpid(pid, &status, 0);

  std::vector<StepCommands> steps;
  std::string failure;
  bool ended = false;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("@@step ")) {
      StepCommands s;
      size_t space = line.find(' ', 7);
      s.divisor = std::stoi(line.substr(7, space - 7));
      s.step = line.substr(space + 1);
      steps.push_back(std::move(s));
    } else if (line.starts_with("@@fail ")) {
      failure = line.substr(7);
    } else if (line == "@@end") {
      ended = true;
    } else if (auto at = line.find(kSending); at != std::string::npos && !steps.empty()) {
      uint32_t cc =
          static_cast<uint32_t>(std::stoul(line.substr(at + kSending.size()), nullptr, 16));
      steps.back().add(cc);
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ended) {
    throw std::runtime_error("counting TPM commands (child run, trace in " + log + ") failed" +
                             (failure.empty() ? std::string() : ": " + failure));
  }
  int all = 0;
  for (const auto& s : steps) all += s.total();
  if (all == 0) throw std::runtime_error("no TPM command in the trace " + log);
  return steps;
}

void print_commands(const std::vector<StepCommands>& steps, bool markdown) {
  std::vector<std::vector<std::string>> table{{"step", "TPM commands", "which"}};
  for (const auto& s : steps) {
    std::string which;
    for (const auto& [cc, times] : s.codes) {
      if (!which.empty()) which += ", ";
      which += cc_name(cc);
      if (times != s.divisor) {
        which += " x" + (times % s.divisor == 0 ? std::to_string(times / s.divisor)
                                                : fmt(2, double(times) / s.divisor));
      }
    }
    double per = double(s.total()) / s.divisor;
    table.push_back(
        {s.step, s.total() % s.divisor == 0 ? std::to_string(s.total() / s.divisor) : fmt(2, per),
         which.empty() ? "-" : which});
  }
  print_cells(table, markdown);
}

}  // namespace hwca::bench
