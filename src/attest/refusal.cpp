#include "attest/refusal.hpp"

namespace hwca::attest {

const char* reason_name(Reason reason) {
  switch (reason) {
    case Reason::malformed:
      return "malformed";
    case Reason::trailing_bytes:
      return "trailing_bytes";
    case Reason::unsupported_key:
      return "unsupported_key";
    case Reason::not_sign:
      return "not_sign";
    case Reason::not_restricted:
      return "not_restricted";
    case Reason::restricted:
      return "restricted";
    case Reason::not_fixed_tpm:
      return "not_fixed_tpm";
    case Reason::not_fixed_parent:
      return "not_fixed_parent";
    case Reason::not_sensitive_data_origin:
      return "not_sensitive_data_origin";
    case Reason::decrypt:
      return "decrypt";
    case Reason::bad_magic:
      return "bad_magic";
    case Reason::bad_type:
      return "bad_type";
    case Reason::extra_data_mismatch:
      return "extra_data_mismatch";
    case Reason::unsupported_signature:
      return "unsupported_signature";
    case Reason::bad_signature:
      return "bad_signature";
    case Reason::name_mismatch:
      return "name_mismatch";
  }
  return "unknown";
}

}  // namespace hwca::attest
