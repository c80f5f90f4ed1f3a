// The end of a helper process's log on one line, for the exception a test fixture throws
// when the process (swtpm, postgres) cannot start.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace hwca::test {

inline std::string log_tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
  for (char& c : text) {
    if (c == '\n') c = '|';
  }
  return text;
}

}  // namespace hwca::test
