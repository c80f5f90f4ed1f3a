// Distinguished names from the command line: "/CN=etcd-ca/O=example" (OpenSSL's form) or
// "CN=etcd-ca,O=example" (RFC 4514's, with "\," for a literal comma). Attribute names are
// OpenSSL's short or long names (CN, O, OU, C, ST, L, emailAddress, ...); values UTF-8.
#pragma once

#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

Result<ossl::Ptr<X509_NAME>> parse_dn(const std::string& text);

// One-line RFC 2253 text of a name (for listings, the database and the audit log).
std::string dn_text(const X509_NAME* name);

// The values of one attribute (NID_commonName, ...) of a name, in order, as UTF-8.
std::vector<std::string> name_values(const X509_NAME* name, int nid);

}  // namespace hwca::ca
