// A SoftHSM2 token in a fresh temporary folder, made with softhsm2-util at run time and
// removed with the object. SoftHSM reads its configuration once per process, so a test
// program makes one token and puts every key it needs in it.
#pragma once

#include <string>

namespace hwca::test {

class SoftHsmToken {
 public:
  // Creates the folder (in `parent`), softhsm2.conf, the token and a PIN file (mode 0600),
  // and points SOFTHSM2_CONF and HWCA_PKCS11_MODULE of this process at them.
  explicit SoftHsmToken(const std::string& label = "hwca-test", const std::string& parent = "/tmp");
  ~SoftHsmToken();
  SoftHsmToken(const SoftHsmToken&) = delete;
  SoftHsmToken& operator=(const SoftHsmToken&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& label() const { return label_; }
  const std::string& pin() const { return pin_; }
  const std::string& pin_file() const { return pin_file_; }
  std::string pin_source() const { return "file:" + pin_file_; }
  static std::string module() { return HWCA_SOFTHSM_MODULE; }
  // "pkcs11:token=<label>;object=<object>", percent-encoded
  std::string key_uri(const std::string& object) const;

 private:
  std::string dir_, label_, pin_ = "1234-test", pin_file_;
};

// Run a shell command; returns its exit status (-1 if it could not run).
int run(const std::string& command);

}  // namespace hwca::test
