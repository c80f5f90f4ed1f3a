// A fresh folder (under /tmp unless told) for one test, removed (with everything in it)
// afterwards.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace hwca::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "hwca-test", const std::string& parent = "/tmp") {
    std::string tmpl = parent + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp in " + parent + " failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    ::chmod(path_.c_str(), 0700);  // a test may have made it read-only
    [[maybe_unused]] int rc = std::system(("rm -rf '" + path_ + "'").c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace hwca::test
