// Drives hwca_fault_pkcs11 from a test: writes its control file (README.md in this folder)
// and reads its counter of injected faults.
//
//   FaultControl faults(dir.file("faults"));          // before the module is loaded:
//   faults.export_environment();                       // HWCA_FAULT_PKCS11_CONTROL=...
//   faults.set({fail("C_Sign", "CKR_DEVICE_ERROR").lasting(2s), logout()});
//   ...
//   faults.clear();
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace hwca::test {

// One line of the control file.
struct FaultRule {
  std::string what;  // "C_Sign CKR_DEVICE_ERROR", "C_Sign delay=500", "logout", ...
  std::optional<std::chrono::system_clock::time_point> from, until;
  std::optional<long> count;
  std::optional<long> after;

  FaultRule& starting(std::chrono::system_clock::time_point t) {
    from = t;
    return *this;
  }
  FaultRule& ending(std::chrono::system_clock::time_point t) {
    until = t;
    return *this;
  }
  // From now until now + d.
  FaultRule& lasting(std::chrono::milliseconds d) {
    return ending(std::chrono::system_clock::now() + d);
  }
  FaultRule& times(long n) {
    count = n;
    return *this;
  }
  // The first n matching calls go on untouched.
  FaultRule& skipping(long n) {
    after = n;
    return *this;
  }
  std::string line() const;
};

// `function` returns `rv` ("CKR_DEVICE_ERROR") instead of reaching the real module.
FaultRule fail(const std::string& function, const std::string& rv);
// `function` waits `ms` before it reaches the real module.
FaultRule delay(const std::string& function, long ms);
// C_FindObjects finds nothing.
FaultRule find_nothing();
// The real module logs out (every session loses the login); once, or with a window before
// every intercepted call inside it.
FaultRule logout();
// The real module closes every session.
FaultRule close_sessions();

class FaultControl {
 public:
  explicit FaultControl(std::string path) : path_(std::move(path)) {}

  // The module's path in the build tree.
  static std::string module_path();
  // Point HWCA_FAULT_PKCS11_CONTROL at this file (read when the module loads) and make sure
  // the real module is named (HWCA_FAULT_PKCS11_MODULE, SoftHSM2 by default).
  void export_environment() const;

  // Replace the rules (atomically: a new file renamed over the old one).
  void set(const std::vector<FaultRule>& rules) const;
  void clear() const { set({}); }

  // How many calls the module has failed or disturbed since it was loaded (of `function`,
  // or of every function when empty); 0 if it is not loaded in this process.
  static unsigned long injected(const std::string& function = "");

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hwca::test
