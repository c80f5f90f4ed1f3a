// A shell command's output for tests that drive command-line tools (tpm2-tools, openssl).
#pragma once

#include <cstdio>
#include <string>

namespace hwca::test {

// Standard output and error of `sh -c command`, together; *status is pclose's status.
inline std::string shell(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

}  // namespace hwca::test
