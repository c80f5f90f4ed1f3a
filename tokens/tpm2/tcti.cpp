#include "tokens/tpm2/tcti.hpp"

#include <tss2/tss2_tctildr.h>

#include <cstdlib>
#include <mutex>

#include "common/text.hpp"
#include "tokens/tpm2/rc.hpp"

namespace hwca::tokens::tpm2 {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '/';
}

// tpm2-tss logs its failures (and some warnings) to stderr unless told otherwise, which
// would break hwca's one-line errors; hwca reports every failure itself. A TSS2_LOG the
// user set is kept: it is how tpm2-tss is debugged. tpm2-tss reads the variable the first
// time it logs, so this runs before the first TCTI is loaded.
void quiet_tss2_log() {
  static std::once_flag once;
  std::call_once(once, [] { ::setenv("TSS2_LOG", "all+NONE", 0); });
}

}  // namespace

TctiChoice choose_tcti(std::string_view option, const char* env) {
  if (!option.empty()) return {std::string(option), "--tcti"};
  if (env != nullptr && *env != '\0') return {env, kTctiEnv};
  return {kDefaultTcti, "default"};
}

TctiChoice resolve_tcti(std::string_view option) {
  return choose_tcti(option, std::getenv(kTctiEnv));
}

std::string describe(const TctiChoice& choice) {
  std::string text = "'" + printable(choice.tcti) + "'";
  if (choice.source == "default") {
    return text + " (the default; choose one with --tcti or " + kTctiEnv + ")";
  }
  return text + " (from " + choice.source + ")";
}

Status check_tcti(const TctiChoice& choice) {
  const std::string& t = choice.tcti;
  std::string::size_type colon = t.find(':');
  std::string_view name = std::string_view(t).substr(0, colon);
  bool ok = !name.empty();
  for (char c : name) ok = ok && name_char(c);
  for (char c : t) ok = ok && static_cast<unsigned char>(c) > ' ' && c != 0x7f;
  if (!ok) {
    return fail(ErrorKind::usage, "malformed TCTI " + describe(choice) +
                                      ": expected NAME[:CONFIG], e.g. " + kDefaultTcti +
                                      " or swtpm:host=127.0.0.1,port=2321");
  }
  return {};
}

void TctiDeleter::operator()(TSS2_TCTI_CONTEXT* tcti) const { Tss2_TctiLdr_Finalize(&tcti); }

Result<TctiPtr> load_tcti(const TctiChoice& choice) {
  if (auto ok = check_tcti(choice); !ok) return tl::unexpected(ok.error());
  quiet_tss2_log();
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(choice.tcti.c_str(), &tcti);
  if (rc == TSS2_RC_SUCCESS) return TctiPtr(tcti);
  // The codes are tctildr's for its own failures and the TCTI library's for the rest.
  switch (rc) {
    case TSS2_TCTI_RC_BAD_VALUE:
      return fail(ErrorKind::usage, "malformed TCTI " + describe(choice) +
                                        ": its configuration was refused: " + rc_text(rc));
    case TSS2_TCTI_RC_NOT_SUPPORTED: {
      std::string name = choice.tcti.substr(0, choice.tcti.find(':'));
      return fail(ErrorKind::not_found, "unknown TCTI " + describe(choice) +
                                            ": tpm2-tss found no library for '" + printable(name) +
                                            "': " + rc_text(rc));
    }
    default:
      return fail(ErrorKind::device,
                  "cannot reach the TPM through TCTI " + describe(choice) + ": " + rc_text(rc));
  }
}

}  // namespace hwca::tokens::tpm2
