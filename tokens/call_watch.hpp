// Bounds every call into a device. A PKCS#11 or TPM call cannot be cancelled, so a token
// that stops answering would hang its caller forever. Each device call is wrapped in a
// CallWatch; a watchdog thread notices a call older than the timeout and runs the stuck
// handler. The default handler prints one line and ends the process (exit code 5): the
// right thing for a command; a long-running server installs its own.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace hwca::tokens {

class CallWatch {
 public:
  // `what` is a static string such as "C_Sign"; `device` names the token ("token 'ca'").
  CallWatch(const char* what, const std::string& device);
  ~CallWatch();
  CallWatch(const CallWatch&) = delete;
  CallWatch& operator=(const CallWatch&) = delete;

 private:
  int slot_;
};

// The longest a single device call may take. Default 30 s, or HWCA_TOKEN_TIMEOUT (seconds).
void set_call_timeout(std::chrono::milliseconds timeout);
std::chrono::milliseconds call_timeout();

using StuckHandler = std::function<void(const std::string& message)>;
void set_stuck_handler(StuckHandler handler);

// Stop the watchdog thread (before the module holding it is unloaded).
void stop_call_watchdog();

}  // namespace hwca::tokens
