// Distinguished names from the command line, in the two usual spellings:
//   "/O=example/CN=etcd-ca"  OpenSSL's -subj form: the most significant RDN FIRST, as the
//                            DER holds them ("\/" for a literal slash);
//   "CN=etcd-ca,O=example"   RFC 4514's, as dn_text() prints them: the most significant
//                            RDN LAST ("\," "\+" or "\2c" for literal characters).
// Both examples make the same name, and what dn_text() prints, pasted back, makes the same
// DER. Attribute names are OpenSSL's short or long names (CN, O, OU, C, ST, L,
// emailAddress, ...); values UTF-8; one value per RDN.
#pragma once

#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

Result<ossl::Ptr<X509_NAME>> parse_dn(const std::string& text);

// One-line RFC 4514 (2253) text of a name, most significant RDN last (for listings, the
// database and the audit log); parse_dn() reads it back to the same DER.
std::string dn_text(const X509_NAME* name);

// The values of one attribute (NID_commonName, ...) of a name, in order, as UTF-8.
std::vector<std::string> name_values(const X509_NAME* name, int nid);

}  // namespace hwca::ca
