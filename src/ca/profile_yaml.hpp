// Profiles written in a home's config.yaml (under `profiles:`), e.g.
//
//   profiles:
//     web:
//       base: server               # start from a built-in profile (optional)
//       description: public web servers
//       keyUsage: [digitalSignature, keyEncipherment]
//       extKeyUsage: [serverAuth]
//       sans: [dns]                # dns, ip, email, uri
//       requireSan: true
//       allowWildcard: true
//       maxSans: 20
//       subject: {attributes: [CN, O], requireCommonName: true}
//       days: 90                   # default validity
//       maxDays: 90
//       keys: {rsa: true, rsaMinBits: 3072, ecCurves: [P-256]}
//       ca: false                  # true for a CA profile (with pathLen)
//       crlDistributionPoints: [http://ca.example/root.crl]   # replace the CA's URLs
//       issuingCertificateURLs: [http://ca.example/root.crt]  # ([] leaves them out)
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <string_view>

#include "ca/profile.hpp"
#include "common/result.hpp"

namespace hwca::ca {

// Refuses text that is not YAML's: not UTF-8, or a character YAML does not allow (C0 and C1
// controls but tab, line feed, carriage return and NEL; DEL; U+FFFE, U+FFFF), or a carriage
// return that does not end a line with a line feed. yaml-cpp reads such text without a word
// and may turn it into other bytes (a NUL became a lone 0xa0; a lone CR stayed in a value),
// which it then writes back as something else. The error names the line; `source` the file.
Status check_yaml_text(std::string_view text, const std::string& source);

// Refuses a mapping that holds a key twice: YAML says keys are unique, yaml-cpp keeps both,
// and which one counted would depend on how each was read. `where` names the mapping.
Status unique_keys(const YAML::Node& map, const std::string& where);

// The `profiles:` node; `source` names the file in errors.
Result<std::map<std::string, Profile>> parse_profiles(const YAML::Node& node,
                                                      const std::string& source);

}  // namespace hwca::ca
