#include "support/fault_pkcs11/fault_control.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace hwca::test {
namespace {

std::string unix_seconds(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(us / 1000000),
                static_cast<long long>(us % 1000000));
  return buf;
}

}  // namespace

std::string FaultRule::line() const {
  std::string out = what;
  if (from) out += " from=" + unix_seconds(*from);
  if (until) out += " until=" + unix_seconds(*until);
  if (count) out += " count=" + std::to_string(*count);
  if (after) out += " after=" + std::to_string(*after);
  return out;
}

FaultRule fail(const std::string& function, const std::string& rv) {
  return FaultRule{function + " " + rv, {}, {}, {}, {}};
}
FaultRule delay(const std::string& function, long ms) {
  return FaultRule{function + " delay=" + std::to_string(ms), {}, {}, {}, {}};
}
FaultRule find_nothing() { return FaultRule{"C_FindObjects empty", {}, {}, {}, {}}; }
FaultRule logout() { return FaultRule{"logout", {}, {}, {}, {}}; }
FaultRule close_sessions() { return FaultRule{"close-sessions", {}, {}, {}, {}}; }

std::string FaultControl::module_path() { return HWCA_FAULT_PKCS11; }

void FaultControl::export_environment() const {
  ::setenv("HWCA_FAULT_PKCS11_CONTROL", path_.c_str(), 1);
  if (std::getenv("HWCA_FAULT_PKCS11_MODULE") == nullptr) {
    ::setenv("HWCA_FAULT_PKCS11_MODULE", HWCA_SOFTHSM_MODULE, 1);
  }
}

void FaultControl::set(const std::vector<FaultRule>& rules) const {
  const std::string tmp = path_ + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& r : rules) out << r.line() << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + path_);
  }
}

unsigned long FaultControl::injected(const std::string& function) {
  void* dl = ::dlopen(HWCA_FAULT_PKCS11, RTLD_NOW | RTLD_NOLOAD);
  if (dl == nullptr) return 0;
  using Fn = unsigned long (*)(const char*);
  auto fn = reinterpret_cast<Fn>(::dlsym(dl, "hwca_fault_pkcs11_injected"));
  unsigned long n = fn != nullptr ? fn(function.empty() ? nullptr : function.c_str()) : 0;
  ::dlclose(dl);
  return n;
}

}  // namespace hwca::test
