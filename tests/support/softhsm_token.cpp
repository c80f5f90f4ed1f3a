#include "support/softhsm_token.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "common/uri.hpp"

namespace hwca::test {

int run(const std::string& command) {
  int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

SoftHsmToken::SoftHsmToken(const std::string& label, const std::string& parent) : label_(label) {
  std::string tmpl = parent + "/hwca-softhsm-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp in " + parent + " failed");
  dir_ = tmpl;
  std::string tokens = dir_ + "/tokens";
  ::mkdir(tokens.c_str(), 0700);
  std::string conf = dir_ + "/softhsm2.conf";
  std::ofstream(conf) << "directories.tokendir = " << tokens << "\n"
                      << "objectstore.backend = file\nlog.level = ERROR\n"
                      << "slots.removable = false\n";
  pin_file_ = dir_ + "/pin";
  {
    std::ofstream out(pin_file_);
    out << pin_ << "\n";
  }
  ::chmod(pin_file_.c_str(), 0600);
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  ::setenv("HWCA_PKCS11_MODULE", module().c_str(), 1);
  if (run("softhsm2-util --init-token --free --label '" + label_ + "' --pin '" + pin_ +
          "' --so-pin 'so-" + pin_ + "' > /dev/null") != 0) {
    throw std::runtime_error("softhsm2-util --init-token failed");
  }
}

SoftHsmToken::~SoftHsmToken() {
  if (!dir_.empty()) run("rm -rf '" + dir_ + "'");
}

std::string SoftHsmToken::key_uri(const std::string& object) const {
  return "pkcs11:token=" + percent_encode(label_) + ";object=" + percent_encode(object);
}

}  // namespace hwca::test
