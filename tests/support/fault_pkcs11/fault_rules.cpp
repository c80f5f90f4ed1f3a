#include "fault_rules.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>

namespace hwca::test::fault {

const char* const kIntercepted[] = {
    "C_Initialize",
    "C_GetSlotList",
    "C_GetTokenInfo",
    "C_OpenSession",
    "C_CloseSession",
    "C_GetSessionInfo",
    "C_Login",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_GetAttributeValue",
    "C_SignInit",
    "C_Sign",
    "C_GenerateKeyPair",
};
const size_t kInterceptedCount = sizeof kIntercepted / sizeof kIntercepted[0];

size_t intercepted_index(const char* fn) {
  for (size_t i = 0; i < kInterceptedCount; ++i) {
    if (std::strcmp(kIntercepted[i], fn) == 0) return i;
  }
  return kInterceptedCount;
}

double unix_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

bool Rule::applies_to(const char* fn) const { return function == "*" || function == fn; }

bool Rule::past_after() { return after == 0 || passed.fetch_add(1) >= after; }

bool Rule::take() {
  if (count < 0) {
    used.fetch_add(1);
    return true;
  }
  long n = used.load();
  while (n < count) {
    if (used.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

bool parse_rv(const std::string& text, CK_RV& rv) {
  static const struct {
    const char* name;
    CK_RV rv;
  } kNames[] = {
      {"CKR_OK", CKR_OK},
      {"CKR_GENERAL_ERROR", CKR_GENERAL_ERROR},
      {"CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED},
      {"CKR_HOST_MEMORY", CKR_HOST_MEMORY},
      {"CKR_DEVICE_ERROR", CKR_DEVICE_ERROR},
      {"CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY},
      {"CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED},
      {"CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT},
      {"CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID},
      {"CKR_SESSION_CLOSED", CKR_SESSION_CLOSED},
      {"CKR_SESSION_COUNT", CKR_SESSION_COUNT},
      {"CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN},
      {"CKR_OBJECT_HANDLE_INVALID", CKR_OBJECT_HANDLE_INVALID},
      {"CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID},
      {"CKR_PIN_INCORRECT", CKR_PIN_INCORRECT},
      {"CKR_PIN_LOCKED", CKR_PIN_LOCKED},
      {"CKR_CRYPTOKI_NOT_INITIALIZED", CKR_CRYPTOKI_NOT_INITIALIZED},
      {"CKR_OPERATION_ACTIVE", CKR_OPERATION_ACTIVE},
  };
  for (const auto& n : kNames) {
    if (text == n.name) {
      rv = n.rv;
      return true;
    }
  }
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    char* end = nullptr;
    unsigned long v = std::strtoul(text.c_str() + 2, &end, 16);
    if (end != nullptr && *end == '\0') {
      rv = v;
      return true;
    }
  }
  return false;
}

namespace {

// "key=value" options after the action: from=, until=, count=, after=. Empty on success.
std::string parse_option(const std::string& word, Rule& rule) {
  size_t eq = word.find('=');
  if (eq == std::string::npos)
    return "expected from=, until=, count= or after=, not '" + word + "'";
  std::string key = word.substr(0, eq), value = word.substr(eq + 1);
  char* end = nullptr;
  if (key == "from" || key == "until") {
    double t = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || t <= 0) return "bad time '" + value + "'";
    (key == "from" ? rule.from : rule.until) = t;
    return "";
  }
  if (key == "count" || key == "after") {
    long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n < 0) return "bad " + key + " '" + value + "'";
    (key == "count" ? rule.count : rule.after) = n;
    return "";
  }
  return "unknown option '" + key + "'";
}

// One line's rule; empty on success.
std::string parse_line(std::istringstream& words, const std::string& first, Rule& rule) {
  std::string word;
  if (first == "logout" || first == "close-sessions") {
    rule.function = "*";
    rule.action = first == "logout" ? Action::logout : Action::close_sessions;
  } else {
    if (first != "*" && intercepted_index(first.c_str()) == kInterceptedCount) {
      return "'" + first + "' is not an intercepted function";
    }
    rule.function = first;
    if (!(words >> word)) return "no action after " + first;
    if (word.rfind("delay=", 0) == 0) {
      char* end = nullptr;
      rule.action = Action::delay;
      rule.delay_ms = std::strtol(word.c_str() + 6, &end, 10);
      if (word.size() == 6 || *end != '\0' || rule.delay_ms < 0) return "bad delay '" + word + "'";
    } else if (word == "empty") {
      if (first != "C_FindObjects") return "'empty' applies to C_FindObjects only";
      rule.action = Action::empty;
    } else if (!parse_rv(word, rule.rv)) {
      return "unknown return code '" + word + "'";
    }
  }
  while (words >> word) {
    if (std::string e = parse_option(word, rule); !e.empty()) return e;
  }
  // A real-module action without a window is done once per version of the control file.
  if ((rule.action == Action::logout || rule.action == Action::close_sessions) && rule.until == 0 &&
      rule.count < 0) {
    rule.count = 1;
  }
  return "";
}

}  // namespace

Parsed parse_rules(const std::string& text) {
  Parsed out;
  std::istringstream lines(text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    Rule rule;
    if (std::string e = parse_line(words, first, rule); !e.empty()) {
      out.errors.push_back("line " + std::to_string(n) + ": " + e);
      continue;
    }
    out.rules.push_back(rule);
  }
  return out;
}

}  // namespace hwca::test::fault
