// A software TPM 2.0 (swtpm) of the test's own: a fresh state folder set up with
// swtpm_setup (EK certificates included), served on a free port pair of 127.0.0.1, stopped
// and removed with the object. Without a resource manager: transient objects outlive a
// connection and there are only three slots, which is what the tests want to see.
//
// A swtpm serves one connection at a time: a second client waits until the first has
// disconnected. Close hwca's contexts (tpm2::TpmContext::close_all) before running
// tpm2-tools against the same TPM.
#pragma once

#include <sys/types.h>

#include <string>

namespace hwca::test {

struct SwtpmOptions {
  std::string parent = "/tmp";  // where its folder is made
  // false: swtpm does not send TPM2_Startup itself (a TPM that firmware left unstarted).
  bool started = true;
  // Try this port pair first without checking it is free (tests of the fixture: a busy
  // pair must be noticed and another one taken); 0: only free-looking random pairs.
  int first_port = 0;
};

class Swtpm {
 public:
  // Sets the state up (swtpm_setup, EK certificates) in a new folder and starts swtpm;
  // throws std::runtime_error (with the end of swtpm's output) if it cannot.
  explicit Swtpm(SwtpmOptions options = {});
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  // "swtpm:host=127.0.0.1,port=P", for HWCA_TCTI, TPM2TOOLS_TCTI and TPM2OPENSSL_TCTI.
  std::string tcti() const;
  // "TPM2TOOLS_TCTI='swtpm:...' " to put before a tpm2-tools command line.
  std::string tools_env() const;
  int port() const { return port_; }  // the TPM's; the control channel is port() + 1
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  // The swtpm-localca chain its EK certificates (NV 0x01c00002 RSA-2048, 0x01c00016 ECC
  // P-384) were signed with, as PEM files: the self-signed root and the intermediate.
  std::string ek_root_pem() const;
  std::string ek_intermediate_pem() const;

  // SIGTERM, then SIGKILL after 3 s; does nothing when it is not running.
  void stop();
  // Start again on the same state (a new port pair: the old one may linger in TIME_WAIT).
  void start();
  // Start again on the same state and the same port pair (a TPM that comes back where its
  // clients left it), trying for up to 10 s while the ports are still taken. The TPM is not
  // probed with a command of the fixture's: a client of the test may connect first, and
  // swtpm serves one connection at a time.
  void start_on_same_port();
  bool running() const { return pid_ > 0; }

 private:
  // One attempt on ports (port, port + 1): true when this swtpm answers there.
  bool try_start(int port, std::string& why, bool probe = true);

  SwtpmOptions options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace hwca::test
