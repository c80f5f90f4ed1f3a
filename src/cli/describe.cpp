#include "cli/describe.hpp"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <iomanip>

#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/revocation.hpp"
#include "ca/spki.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

using nlohmann::json;

std::string time_text(const ASN1_TIME* t) {
  return t == nullptr ? std::string() : rfc3339_text(ca::unix_time(t));
}

json time_or_null(const ASN1_TIME* t) { return t == nullptr ? json(nullptr) : json(time_text(t)); }

// "AB:CD:..." as openssl prints key identifiers and fingerprints.
json colon_hex(const ASN1_OCTET_STRING* s) {
  if (s == nullptr) return nullptr;
  std::string hex = hex_text(ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s)));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i != 0) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1])));
  }
  return out;
}

std::string object_name(const ASN1_OBJECT* obj) {
  int nid = OBJ_obj2nid(obj);
  if (nid != NID_undef) return OBJ_nid2sn(nid);
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return buf;
}

std::string general_name_text(const GENERAL_NAME* name) {
  int type = 0;
  const void* value = GENERAL_NAME_get0_value(name, &type);
  auto text = [&](const char* prefix) {
    const auto* s = static_cast<const ASN1_STRING*>(value);
    return prefix +
           printable(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                      static_cast<size_t>(ASN1_STRING_length(s))));
  };
  switch (type) {
    case GEN_DNS:
      return text("DNS:");
    case GEN_EMAIL:
      return text("email:");
    case GEN_URI:
      return text("URI:");
    case GEN_IPADD: {
      const auto* s = static_cast<const ASN1_OCTET_STRING*>(value);
      char buf[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(s);
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf)) {
        return std::string("IP:") + buf;
      }
      return "IP:(" + std::to_string(len) + " octets)";
    }
    case GEN_DIRNAME:
      return "dirName:" + ca::dn_text(static_cast<const X509_NAME*>(value));
    case GEN_RID:
      return "RID:" + object_name(static_cast<const ASN1_OBJECT*>(value));
    default:
      return "otherName";
  }
}

// The extensions a certificate carries or a request asks for, as the description's fields.
void add_extensions(json& doc, const STACK_OF(X509_EXTENSION) * exts) {
  doc["sans"] = json::array();
  doc["keyUsage"] = json::array();
  doc["extendedKeyUsage"] = json::array();
  doc["basicConstraints"] = nullptr;
  doc["subjectKeyId"] = nullptr;
  doc["authorityKeyId"] = nullptr;
  if (auto* sans = static_cast<GENERAL_NAMES*>(
          X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      doc["sans"].push_back(general_name_text(sk_GENERAL_NAME_value(sans, i)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (auto* ku =
          static_cast<ASN1_BIT_STRING*>(X509V3_get_d2i(exts, NID_key_usage, nullptr, nullptr))) {
    static const char* const kBits[] = {"digitalSignature", "contentCommitment", "keyEncipherment",
                                        "dataEncipherment", "keyAgreement",      "keyCertSign",
                                        "cRLSign",          "encipherOnly",      "decipherOnly"};
    for (int bit = 0; bit < 9; ++bit) {
      if (ASN1_BIT_STRING_get_bit(ku, bit) == 1) doc["keyUsage"].push_back(kBits[bit]);
    }
    ASN1_BIT_STRING_free(ku);
  }
  if (auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
          X509V3_get_d2i(exts, NID_ext_key_usage, nullptr, nullptr))) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
      doc["extendedKeyUsage"].push_back(object_name(sk_ASN1_OBJECT_value(eku, i)));
    }
    EXTENDED_KEY_USAGE_free(eku);
  }
  if (auto* bc = static_cast<BASIC_CONSTRAINTS*>(
          X509V3_get_d2i(exts, NID_basic_constraints, nullptr, nullptr))) {
    json path_len = nullptr;
    if (bc->pathlen != nullptr) path_len = ASN1_INTEGER_get(bc->pathlen);
    doc["basicConstraints"] = {{"ca", bc->ca != 0}, {"pathLength", path_len}};
    BASIC_CONSTRAINTS_free(bc);
  }
  if (auto* ski = static_cast<ASN1_OCTET_STRING*>(
          X509V3_get_d2i(exts, NID_subject_key_identifier, nullptr, nullptr))) {
    doc["subjectKeyId"] = colon_hex(ski);
    ASN1_OCTET_STRING_free(ski);
  }
  if (auto* aki = static_cast<AUTHORITY_KEYID*>(
          X509V3_get_d2i(exts, NID_authority_key_identifier, nullptr, nullptr))) {
    doc["authorityKeyId"] = colon_hex(aki->keyid);
    AUTHORITY_KEYID_free(aki);
  }
}

json key_fields(EVP_PKEY* key, const X509_PUBKEY* spki) {
  return {{"keyType", key != nullptr ? tokens::key_type_of(key) : std::string("unknown")},
          {"publicKeySha256", ca::spki_sha256(spki)}};
}

std::string fingerprint(const unsigned char* der, size_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(der, len, md, &md_len, EVP_sha256(), nullptr) != 1) return "";
  ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(s, md, static_cast<int>(md_len));
  std::string out = colon_hex(s);
  ASN1_OCTET_STRING_free(s);
  return out;
}

}  // namespace

json certificate_json(const X509* cert) {
  json doc = {
      {"serial", ca::serial_hex(X509_get0_serialNumber(cert))},
      {"subject", ca::dn_text(X509_get_subject_name(cert))},
      {"issuer", ca::dn_text(X509_get_issuer_name(cert))},
      {"notBefore", time_text(X509_get0_notBefore(cert))},
      {"notAfter", time_text(X509_get0_notAfter(cert))},
      {"signatureAlgorithm", OBJ_nid2sn(X509_get_signature_nid(cert))},
      {"sha256", ca::fingerprint_sha256(cert)},
  };
  doc.update(key_fields(X509_get0_pubkey(cert), X509_get_X509_PUBKEY(cert)));
  add_extensions(doc, X509_get0_extensions(cert));
  return doc;
}

json csr_json(X509_REQ* csr) {
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr);
  json doc = {{"subject", ca::dn_text(X509_REQ_get_subject_name(csr))},
              {"signatureAlgorithm", OBJ_nid2sn(X509_REQ_get_signature_nid(csr))},
              {"signatureValid", key != nullptr && X509_REQ_verify(csr, key) == 1}};
  ERR_clear_error();
  doc.update(key_fields(key, X509_REQ_get_X509_PUBKEY(csr)));
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr);
  add_extensions(doc, exts);
  json names = json::array();
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    names.push_back(object_name(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i))));
  }
  doc["requestedExtensions"] = names;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  ERR_clear_error();
  return doc;
}

json crl_json(const X509_CRL* crl) {
  json doc = {{"issuer", ca::dn_text(X509_CRL_get_issuer(crl))},
              {"thisUpdate", time_or_null(X509_CRL_get0_lastUpdate(crl))},
              {"nextUpdate", time_or_null(X509_CRL_get0_nextUpdate(crl))},
              {"signatureAlgorithm", OBJ_nid2sn(X509_CRL_get_signature_nid(crl))},
              {"number", nullptr},
              {"authorityKeyId", nullptr}};
  if (auto* n =
          static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr))) {
    uint64_t v = 0;
    if (ASN1_INTEGER_get_uint64(&v, n) == 1) doc["number"] = v;
    ASN1_INTEGER_free(n);
  }
  if (auto* aki = static_cast<AUTHORITY_KEYID*>(
          X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr))) {
    doc["authorityKeyId"] = colon_hex(aki->keyid);
    AUTHORITY_KEYID_free(aki);
  }
  json revoked = json::array();
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(const_cast<X509_CRL*>(crl));
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(entries, i);
    json entry = {{"serial", ca::serial_hex(X509_REVOKED_get0_serialNumber(r))},
                  {"revokedAt", time_text(X509_REVOKED_get0_revocationDate(r))},
                  {"reason", "unspecified"},
                  {"reasonCode", 0}};
    if (auto* code = static_cast<ASN1_ENUMERATED*>(
            X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr))) {
      long c = ASN1_ENUMERATED_get(code);
      entry["reasonCode"] = c;
      entry["reason"] = ca::crl_reason_name(static_cast<int>(c));
      ASN1_ENUMERATED_free(code);
    }
    revoked.push_back(std::move(entry));
  }
  doc["revoked"] = std::move(revoked);
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(const_cast<X509_CRL*>(crl), &der);
  doc["sha256"] = len > 0 ? fingerprint(der, static_cast<size_t>(len)) : std::string();
  OPENSSL_free(der);
  ERR_clear_error();
  return doc;
}

std::string issued_status(const ca::IssuedCert& record, std::time_t now) {
  if (record.revoked) return "revoked";
  return record.not_after <= now ? "expired" : "valid";
}

json issued_json(const ca::IssuedCert& c, std::time_t now) {
  const unsigned char* p = c.der.data();
  ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(c.der.size())));
  json doc = x ? certificate_json(x.get())
               : json{{"serial", c.serial},
                      {"subject", c.subject},
                      {"notBefore", rfc3339_text(c.not_before)},
                      {"notAfter", rfc3339_text(c.not_after)},
                      {"sans", c.sans}};
  doc["ca"] = c.ca;
  doc["profile"] = c.profile;
  doc["status"] = issued_status(c, now);
  doc["revokedAt"] = c.revoked ? json(rfc3339_text(c.revoked_at)) : json(nullptr);
  doc["revocationReason"] =
      c.revoked ? json(ca::crl_reason_name(c.revocation_reason)) : json(nullptr);
  doc["requester"] = c.requester;
  doc["renewedFrom"] = c.renewed_from.empty() ? json(nullptr) : json(c.renewed_from);
  doc["attestation"] = c.attest_ek_sha256.empty() ? json(nullptr)
                                                  : json{{"ekSha256", c.attest_ek_sha256},
                                                         {"akName", c.attest_ak_name},
                                                         {"keyName", c.attest_key_name}};
  return doc;
}

json key_json(const tokens::KeyInfo& key) {
  return {{"uri", key.uri}, {"label", key.label}, {"id", key.id_hex}, {"type", key.type}};
}

json key_json(const tokens::KeyAttributes& a) {
  json doc = key_json(a.key);
  doc["bits"] = a.bits;
  json flags = json::object();
  for (const auto& [name, value] : a.flags) flags[name] = value;
  doc["attributes"] = flags;
  doc["publicKey"] = a.public_pem;
  return doc;
}

json token_json(const tokens::TokenInfo& t) {
  return {{"label", t.label}, {"uri", t.uri},       {"manufacturer", t.manufacturer},
          {"model", t.model}, {"serial", t.serial}, {"slot", t.slot_id},
          {"flags", t.flags}};
}

namespace {

// "notBefore" -> "not before", "publicKeySha256" -> "public key sha256".
std::string label_of(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += ' ';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

std::string scalar_text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return printable(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

}  // namespace

void describe_text(std::ostream& out, const json& doc) {
  // Keys in the order people read them, then the rest as they come.
  static const char* const kFirst[] = {"kind",       "subject",   "issuer",   "serial",
                                       "number",     "notBefore", "notAfter", "thisUpdate",
                                       "nextUpdate", "keyType",   "sans"};
  std::vector<std::string> order(std::begin(kFirst), std::end(kFirst));
  for (const auto& [key, value] : doc.items()) {
    if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  }
  for (const auto& key : order) {
    if (!doc.contains(key)) continue;
    const json& value = doc[key];
    const std::string label = label_of(key) + ":";
    if (value.is_object()) {
      std::string parts;
      for (const auto& [k, v] : value.items()) {
        parts += (parts.empty() ? "" : ", ") + label_of(k) + " " + scalar_text(v);
      }
      out << std::left << std::setw(22) << label << parts << "\n";
    } else if (value.is_array() && !value.empty() && value.front().is_object()) {
      out << label << "\n";
      for (const auto& item : value) {
        std::string parts;
        if (item.contains("serial")) parts = scalar_text(item["serial"]);
        for (const auto& [k, v] : item.items()) {
          if (k != "serial") parts += (parts.empty() ? "" : "  ") + scalar_text(v);
        }
        out << "  " << parts << "\n";
      }
    } else if (value.is_array()) {
      std::string parts;
      for (const auto& item : value) parts += (parts.empty() ? "" : ", ") + scalar_text(item);
      out << std::left << std::setw(22) << label << (parts.empty() ? "-" : parts) << "\n";
    } else {
      out << std::left << std::setw(22) << label << scalar_text(value) << "\n";
    }
  }
}

}  // namespace hwca::cli
