// The bodies EST (RFC 7030) exchanges, encoded and decoded with OpenSSL:
//   requests (simpleenroll, simplereenroll): application/pkcs10, base64 of a DER PKCS#10;
//   certificates (cacerts and enrollment replies): application/pkcs7-mime;
//     smime-type=certs-only, base64 of a DER degenerate SignedData (no signers, no content);
//   csrattrs: application/csrattrs, base64 of a DER CsrAttrs (SEQUENCE OF AttrOrOID).
// Base64 goes out in lines of at most 64 characters, each ending with LF (the last one
// too), which every EST client and both `base64 -d` and `openssl base64 -d` read (GNU
// base64 refuses CRs), and is read with any line breaks (LF or CRLF) or none.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "common/secure_string.hpp"

namespace hwca::est {

inline constexpr const char* kPkcs10Type = "application/pkcs10";
inline constexpr const char* kCertsOnlyType = "application/pkcs7-mime; smime-type=certs-only";
inline constexpr const char* kCsrAttrsType = "application/csrattrs";

// A request body: base64 (line breaks and a trailing newline allowed) of exactly one DER
// PKCS#10 of at most ca::kMaxCsrBytes whose signature verifies (ca::parse_csr; PEM inside
// the base64 is refused). Every refusal is ErrorKind::usage naming what is wrong ("the
// request body is empty", "the request body is larger than 128 KiB" (before decoding),
// "the request body is not base64", "the request body is not a DER PKCS#10 request: ..."
// (PEM text, not a SEQUENCE, over 64 KiB, garbage or truncated, bytes after the request),
// "the request's signature does not verify").
// Whether a Content-Type header names `type` ("application/pkcs10"): case-insensitive,
// parameters (";charset=...") allowed.
bool is_media_type(std::string_view content_type, std::string_view type);

// HTTP Basic credentials (RFC 7617) from an Authorization header's value: "Basic " (the
// scheme in any case) and base64 of "user:password", the password after the first ':'.
// Nothing when the header is another scheme, not base64, or has no ':'.
struct BasicCredentials {
  std::string user;
  SecureString password;
};
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

Result<ossl::Ptr<X509_REQ>> decode_pkcs10_body(std::string_view body, OSSL_LIB_CTX* libctx);

// The certs-only reply holding `certs` in order (the certificates field is kept in the
// order given), base64 with LF every 64 characters. No certificates: an empty SignedData.
Result<std::string> certs_only_body(const std::vector<const X509*>& certs);

// Decode a certs-only body (for the node agent and tests): the certificates in order.
// ErrorKind::usage when the body is empty, not base64, not exactly one DER PKCS#7, or not
// a SignedData; signers, if any, are not looked at.
Result<std::vector<ossl::Ptr<X509>>> decode_certs_only_body(std::string_view body);

// What csrattrs tells a client to put in its request: the OIDs to include (here the
// signature algorithm the CA prefers) and, as an attribute, the key type and curve.
struct CsrAttrs {
  std::vector<int> oids;  // NIDs, e.g. NID_ecdsa_with_SHA256
  int key_type = 0;       // e.g. NID_X9_62_id_ecPublicKey (0: none)
  int curve = 0;          // e.g. NID_X9_62_prime256v1, the attribute's value
};
// The OIDs come first, then the attribute { key_type, { curve } }; a key type without a
// curve goes as a plain OID (an Attribute needs a value). A curve without a key type or a
// NID without an OID is ErrorKind::internal.
Result<std::string> csrattrs_body(const CsrAttrs& attrs);

}  // namespace hwca::est
