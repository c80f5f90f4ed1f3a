// The fault a CK_RV means, and the calls that more than one caller of the gateway makes.
#include "tokens/pkcs11/gateway.hpp"

namespace hwca::tokens::pkcs11 {

Fault fault_of(CK_RV rv) {
  if (rv_token_gone(rv)) return Fault::gone;
  if (rv_login_lost(rv)) return Fault::login_lost;
  return Fault::none;
}

Rv slots_with_token(const Gateway& gw, std::vector<CK_SLOT_ID>& ids) {
  auto seq = gw.sequence("C_GetSlotList");
  CK_ULONG count = 0;
  ids.clear();
  Rv rv = seq.call(HWCA_CK(C_GetSlotList), CK_TRUE, nullptr, &count);
  if (rv) {
    ids.resize(count);
    rv = seq.call(HWCA_CK(C_GetSlotList), CK_TRUE, ids.data(), &count);
    ids.resize(count);
  }
  return rv;
}

}  // namespace hwca::tokens::pkcs11
