#include "ca/audit_trail.hpp"

#include "ca/audit_log.hpp"
#include "ca/database.hpp"
#include "ca/home.hpp"
#include "ca/pg_audit_trail.hpp"

namespace hwca::ca {

Result<std::string> AuditTrail::append_all(const std::vector<Event>& events) {
  return write_events(events);
}

std::unique_ptr<AuditTrail> open_audit(const Home& home) {
  if (is_postgresql_url(home.config().database)) {
    return std::make_unique<PgAuditTrail>(home.config().database);
  }
  return std::make_unique<AuditLog>(home.path(home.config().audit_log));
}

}  // namespace hwca::ca
