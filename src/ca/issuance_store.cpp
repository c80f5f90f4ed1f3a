// The default commit point of issuing (issuance_store.hpp): the record, then its audit lines.
#include "ca/issuance_store.hpp"

namespace hwca::ca {

tl::expected<void, IssuanceStore::AuditedRecordError> IssuanceStore::record_audited(
    const std::vector<IssuedCert>& batch, AuditTrail& audit,
    const std::vector<AuditTrail::Event>& events) {
  if (auto ok = record(batch); !ok) {
    return tl::unexpected(AuditedRecordError{ok.error(), /*recorded=*/false});
  }
  if (auto ok = audit.append_all(events); !ok) {
    return tl::unexpected(AuditedRecordError{ok.error(), /*recorded=*/true});
  }
  return {};
}

}  // namespace hwca::ca
