// The rules of the fault-injecting PKCS#11 module (README.md in this folder): parsed from
// the control file, matched against each intercepted call. No PKCS#11 calls here.
#pragma once

#include <p11-kit/pkcs11.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace hwca::test::fault {

enum class Action {
  fail,            // return `rv` instead of calling the real module
  delay,           // sleep `delay_ms`, then go on
  empty,           // C_FindObjects only: find nothing (CKR_OK, no objects)
  logout,          // C_Logout in the real module: every session loses the login
  close_sessions,  // C_CloseAllSessions in the real module on every slot with a token
};

struct Rule {
  std::string function;  // "C_Sign", or "*" for every intercepted function
  Action action = Action::fail;
  CK_RV rv = CKR_OK;
  long delay_ms = 0;
  double from = 0;   // unix time (seconds); 0: from now on
  double until = 0;  // unix time (seconds); 0: no end
  long count = -1;   // how many times at most; -1: no limit
  long after = 0;    // the first `after` matching calls in the window pass untouched
  std::atomic<long> used{0};
  std::atomic<long> passed{0};

  Rule() = default;
  Rule(const Rule& o)
      : function(o.function),
        action(o.action),
        rv(o.rv),
        delay_ms(o.delay_ms),
        from(o.from),
        until(o.until),
        count(o.count),
        after(o.after),
        used(o.used.load()),
        passed(o.passed.load()) {}
  Rule& operator=(const Rule&) = delete;

  bool applies_to(const char* fn) const;
  bool active(double now) const {
    return (from == 0 || now >= from) && (until == 0 || now < until);
  }
  // Counts one matching call in the window; false for the first `after` of them.
  bool past_after();
  // Counts one use; false once `count` uses are spent.
  bool take();
};

// One line of the control file; on error `error` says why (the line is then ignored).
struct Parsed {
  std::vector<Rule> rules;
  std::vector<std::string> errors;  // "line 3: ..."
};
Parsed parse_rules(const std::string& text);

// CKR_DEVICE_ERROR and the other names the README lists, or 0x... hex; false if unknown.
bool parse_rv(const std::string& text, CK_RV& rv);

// The functions the module intercepts (every other one is forwarded untouched).
extern const char* const kIntercepted[];
extern const size_t kInterceptedCount;
// The index of `fn` in kIntercepted, or kInterceptedCount.
size_t intercepted_index(const char* fn);

// Seconds since the epoch, as "until=" counts them.
double unix_now();

}  // namespace hwca::test::fault
