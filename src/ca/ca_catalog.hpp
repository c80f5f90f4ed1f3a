// The CA definitions a shared database keeps, so that a CA made by one instance ('hwca ca
// init' against a PostgreSQL home) is usable by every instance without copying files: its
// config.yaml entry (key URI, parent, URLs; the same YAML text) and its certificate. The
// home reads them when it opens (Home::adopt_shared) and keeps them in memory; config.yaml
// keeps only the home's own settings. The same for profiles ('hwca profile publish'). SQLite
// homes have none: their CAs and profiles are in config.yaml.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

struct SharedCa {
  std::string name;
  std::string entry_yaml;  // the CA's config.yaml mapping (ca_entry_yaml(), home.hpp)
  std::string cert_pem;
  int64_t created_at = 0;  // Unix seconds
  std::string created_by;  // "cli:uid=0"
};

class CaCatalog {
 public:
  virtual ~CaCatalog() = default;
  // Every shared CA, by name.
  virtual Result<std::vector<SharedCa>> shared_cas() = 0;
  // conflict if a CA of that name is there already (made by another instance meanwhile).
  virtual Status publish_ca(const SharedCa& ca) = 0;
  // Take back a CA just published (its creation could not be audited); not_found if absent.
  virtual Status withdraw_ca(const std::string& name) = 0;

  // The profiles every home on the database takes in besides its own: a `profiles:`
  // mapping of config.yaml as YAML text (profile_yaml.hpp), empty when none was published.
  virtual Result<std::string> shared_profiles() = 0;
  // Replace them with `yaml` (checked by the caller; empty: none); durable when it returns.
  virtual Status publish_profiles(const std::string& yaml, int64_t when, const std::string& by) = 0;
};

}  // namespace hwca::ca
