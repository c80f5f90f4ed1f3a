// Unit tests for src/est/est_codec.hpp: the EST (RFC 7030) bodies. What the codec writes
// is read back independently: with OpenSSL's own d2i functions on base64 decoded here with
// EVP_DecodeBlock, and with the openssl command (base64 -d, pkcs7 -print_certs, asn1parse).
// CsrAttrs is compared byte for byte with a DER worked out by hand from RFC 7030 4.5.2.
#include "est/est_codec.hpp"

#include <gtest/gtest.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ca/csr.hpp"
#include "support/temp_dir.hpp"
#include "support/test_csr.hpp"

namespace {

using hwca::ErrorKind;
namespace est = hwca::est;
namespace ossl = hwca::ossl;
namespace test = hwca::test;

constexpr const char* kOpenssl = "/usr/bin/openssl";

// A self-signed certificate with CN=`cn`.
ossl::Ptr<X509> make_cert(const std::string& cn, EVP_PKEY* key) {
  ossl::Ptr<X509> x(X509_new());
  auto name = test::name_of({{"CN", cn}});
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 7) != 1 ||
      X509_set_subject_name(x.get(), name.get()) != 1 ||
      X509_set_issuer_name(x.get(), name.get()) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(x.get()), 0) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600) == nullptr ||
      X509_set_pubkey(x.get(), key) != 1 || X509_sign(x.get(), key, EVP_sha256()) <= 0) {
    throw std::runtime_error("cannot make a certificate");
  }
  return x;
}

std::string cert_der(const X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  if (len <= 0) throw std::runtime_error("i2d_X509");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Base64 decoded without hwca's decoder: line breaks taken out, EVP_DecodeBlock, padding off.
std::string plain_decode(const std::string& text) {
  std::string clean;
  for (char c : text) {
    if (c != '\r' && c != '\n') clean.push_back(c);
  }
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) throw std::runtime_error("EVP_DecodeBlock failed");
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') pad = clean[clean.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// Base64 of `data` without hwca's encoder, broken into lines of `width` with `eol`
// (width 0: one line, no break).
std::string plain_encode(const std::string& data, size_t width, const std::string& eol) {
  std::string flat(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(flat.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  flat.resize(static_cast<size_t>(n));
  if (width == 0) return flat;
  std::string out;
  for (size_t pos = 0; pos < flat.size(); pos += width) out += flat.substr(pos, width) + eol;
  return out;
}

bool have_openssl() { return ::access(kOpenssl, X_OK) == 0; }

// Runs a shell command; its standard output, and its exit status in `status`.
std::string run(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  status = ::pclose(pipe);
  return out;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct Chain {
  ossl::Ptr<EVP_PKEY> key = test::ec_key("P-256");
  ossl::Ptr<X509> leaf = make_cert("leaf.example", key.get());
  ossl::Ptr<X509> intermediate = make_cert("intermediate", key.get());
  ossl::Ptr<X509> root = make_cert("root", key.get());
  std::vector<const X509*> all() const { return {leaf.get(), intermediate.get(), root.get()}; }
};

// ---------------------------------------------------------------------------------------
// certs-only

TEST(EstCertsOnly, RoundTripKeepsTheCertificatesAndTheirOrder) {
  Chain c;
  for (const auto& order : {c.all(), std::vector<const X509*>{c.root.get(), c.leaf.get()},
                            std::vector<const X509*>{c.leaf.get()}}) {
    auto body = est::certs_only_body(order);
    ASSERT_TRUE(body) << body.error().message;
    auto back = est::decode_certs_only_body(*body);
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      EXPECT_EQ(cert_der((*back)[i].get()), cert_der(order[i])) << i;
    }
  }
}

TEST(EstCertsOnly, IsADegenerateSignedDataWithNoSignersAndNoContent) {
  Chain c;
  auto body = est::certs_only_body(c.all());
  ASSERT_TRUE(body);
  std::string der = plain_decode(*body);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<PKCS7, decltype(&PKCS7_free)> p7(
      d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())), PKCS7_free);
  ASSERT_TRUE(p7);
  EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(der.data()) + der.size());
  ASSERT_EQ(OBJ_obj2nid(p7->type), NID_pkcs7_signed);
  PKCS7_SIGNED* sd = p7->d.sign;
  ASSERT_NE(sd, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(sd->version), 1);
  EXPECT_EQ(sk_X509_ALGOR_num(sd->md_algs), 0);
  EXPECT_EQ(sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7.get())), 0);
  EXPECT_EQ(sd->crl, nullptr);  // crls [1] absent
  // encapContentInfo: id-data, content absent.
  ASSERT_NE(sd->contents, nullptr);
  EXPECT_EQ(OBJ_obj2nid(sd->contents->type), NID_pkcs7_data);
  EXPECT_EQ(sd->contents->d.data, nullptr);
  ASSERT_EQ(sk_X509_num(sd->cert), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cert_der(sk_X509_value(sd->cert, i)), cert_der(c.all()[static_cast<size_t>(i)]));
  }
  // ContentInfo ::= SEQUENCE { contentType id-signedData (1.2.840.113549.1.7.2), ... }
  const std::string signed_data_oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 11);
  ASSERT_GT(der.size(), 20u);
  EXPECT_EQ(static_cast<unsigned char>(der[0]), 0x30);
  EXPECT_EQ(der.find(signed_data_oid), 4u) << "contentType right after the outer header";
}

TEST(EstCertsOnly, LinesAre64CharactersEndingWithLf) {
  Chain c;
  auto body = est::certs_only_body(c.all());
  ASSERT_TRUE(body);
  ASSERT_GT(body->size(), 200u);
  ASSERT_EQ(body->back(), '\n');
  ASSERT_EQ(body->find('\r'), std::string::npos);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < body->size()) {
    size_t end = body->find('\n', pos);
    ASSERT_NE(end, std::string::npos);
    lines.push_back(body->substr(pos, end - pos));
    pos = end + 1;
  }
  ASSERT_GT(lines.size(), 2u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 64u) << i;
  EXPECT_GT(lines.back().size(), 0u);
  EXPECT_LE(lines.back().size(), 64u);
  std::string joined;
  for (const auto& l : lines) {
    EXPECT_EQ(l.find_first_of("\r\n"), std::string::npos);
    joined += l;
  }
  EXPECT_EQ(joined.size() % 4, 0u);
  EXPECT_EQ(
      joined.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
      std::string::npos);
}

TEST(EstCertsOnly, TheOpensslCommandPrintsTheCertificatesInOrder) {
  if (!have_openssl()) GTEST_SKIP() << kOpenssl << " is absent";
  Chain c;
  auto body = est::certs_only_body(c.all());
  ASSERT_TRUE(body);
  hwca::test::TempDir dir("hwca-est");
  write_file(dir.file("body.b64"), *body);
  int status = 0;
  // As a curl user would: coreutils' base64 -d, then openssl pkcs7 -print_certs.
  std::string out =
      run("base64 -d " + dir.file("body.b64") + " > " + dir.file("body.der") + " && " + kOpenssl +
              " pkcs7 -inform DER -in " + dir.file("body.der") + " -print_certs -noout 2>&1",
          status);
  ASSERT_EQ(status, 0) << out;
  std::vector<std::string> subjects;
  for (const auto& line : lines_of(out)) {
    if (line.rfind("subject=", 0) == 0) subjects.push_back(line);
  }
  ASSERT_EQ(subjects.size(), 3u) << out;
  EXPECT_NE(subjects[0].find("leaf.example"), std::string::npos) << out;
  EXPECT_NE(subjects[1].find("intermediate"), std::string::npos) << out;
  EXPECT_NE(subjects[2].find("root"), std::string::npos) << out;
  // The certificates' PEM as openssl writes them, in the same order.
  std::string pem = run(std::string(kOpenssl) + " pkcs7 -inform DER -in " + dir.file("body.der") +
                            " -print_certs 2>&1",
                        status);
  ASSERT_EQ(status, 0) << pem;
  std::vector<std::string> ders;
  size_t pos = 0;
  while ((pos = pem.find("-----BEGIN CERTIFICATE-----\n", pos)) != std::string::npos) {
    pos += 28;
    size_t end = pem.find("-----END CERTIFICATE-----", pos);
    ASSERT_NE(end, std::string::npos);
    ders.push_back(plain_decode(pem.substr(pos, end - pos)));
    pos = end;
  }
  ASSERT_EQ(ders.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(ders[i], cert_der(c.all()[i])) << i;
}

TEST(EstCertsOnly, NoCertificatesIsAnEmptySignedData) {
  auto body = est::certs_only_body({});
  ASSERT_TRUE(body) << body.error().message;
  auto back = est::decode_certs_only_body(*body);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->empty());
}

TEST(EstCertsOnly, DecodingTakesAnyLineBreaks) {
  Chain c;
  auto body = est::certs_only_body(c.all());
  ASSERT_TRUE(body);
  std::string der = plain_decode(*body);
  for (const std::string& text : {plain_encode(der, 0, ""), plain_encode(der, 76, "\n"),
                                  plain_encode(der, 64, "\r\n"), plain_encode(der, 0, "") + "\n"}) {
    auto back = est::decode_certs_only_body(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->size(), 3u);
  }
}

TEST(EstCertsOnly, DecodingRefusesWhatIsNotACertsOnlyPkcs7) {
  Chain c;
  auto body = est::certs_only_body(c.all());
  ASSERT_TRUE(body);
  std::string der = plain_decode(*body);

  std::unique_ptr<PKCS7, decltype(&PKCS7_free)> data(PKCS7_new(), PKCS7_free);
  ASSERT_EQ(PKCS7_set_type(data.get(), NID_pkcs7_data), 1);
  unsigned char* data_der = nullptr;
  int data_len = i2d_PKCS7(data.get(), &data_der);
  ASSERT_GT(data_len, 0);
  std::string data_text(reinterpret_cast<char*>(data_der), static_cast<size_t>(data_len));
  OPENSSL_free(data_der);

  const std::pair<std::string, std::string> cases[] = {
      {"", "the certs-only body is empty"},
      {"\r\n", "the certs-only body is empty"},
      {"not base64!", "the certs-only body is not base64"},
      {plain_encode("garbage", 0, ""), "is not a DER PKCS#7"},
      {plain_encode(der.substr(0, der.size() - 10), 0, ""), "is not a DER PKCS#7"},
      {plain_encode(der + "xyz", 0, ""), "bytes after the PKCS#7"},
      {plain_encode(data_text, 0, ""), "is not a SignedData"},
  };
  for (const auto& [text, needle] : cases) {
    auto back = est::decode_certs_only_body(text);
    ASSERT_FALSE(back) << needle;
    EXPECT_EQ(back.error().kind, ErrorKind::usage);
    EXPECT_NE(back.error().message.find(needle), std::string::npos) << back.error().message;
  }
}

// ---------------------------------------------------------------------------------------
// application/pkcs10

struct Request {
  ossl::Ptr<EVP_PKEY> key = test::ec_key("P-256");
  ossl::Ptr<X509_REQ> req = test::simple_csr(key.get(), "system:node:worker-1", "DNS:worker-1");
  std::string der = test::csr_der(req.get());
};

TEST(EstPkcs10, BodiesWithAnyLineBreaksDecodeToTheSameRequest) {
  Request r;
  const std::string bodies[] = {
      plain_encode(r.der, 64, "\r\n"),     plain_encode(r.der, 76, "\n"),
      plain_encode(r.der, 0, ""),          plain_encode(r.der, 0, "") + "\n",
      plain_encode(r.der, 0, "") + "\r\n", "\r\n" + plain_encode(r.der, 64, "\r\n"),
      plain_encode(r.der, 4, "\n"),
  };
  for (const auto& body : bodies) {
    auto req = est::decode_pkcs10_body(body, nullptr);
    ASSERT_TRUE(req) << req.error().message;
    EXPECT_EQ(test::csr_der(req->get()), r.der);
  }
}

TEST(EstPkcs10, EachKindOfBadBodyIsRefusedWithItsMessage) {
  Request r;
  std::string pem = test::csr_pem(r.req.get());
  std::string truncated = r.der.substr(0, r.der.size() - 5);
  std::string trailing = r.der + std::string("\x05\x00", 2);
  // The same request with one character of its CN changed: the signature no longer covers it.
  std::string tampered = r.der;
  size_t cn = tampered.find("worker-1");
  ASSERT_NE(cn, std::string::npos);
  tampered[cn] = 'W';
  std::string cert = cert_der(make_cert("a", r.key.get()).get());

  const std::string not_der = "the request body is not a DER PKCS#10 request: ";
  struct Case {
    std::string body;
    std::string message;  // exact
  };
  const Case cases[] = {
      {"", "the request body is empty"},
      {"\r\n\r\n", "the request body is empty"},
      {"MIIB*not-base64*", "the request body is not base64"},
      {"MII", "the request body is not base64"},
      {plain_encode(r.der, 64, "\r\n") + "-----", "the request body is not base64"},
      {r.der, "the request body is not base64"},
      {plain_encode(pem, 64, "\r\n"), not_der + "it holds PEM text, not DER"},
      {plain_encode("hello", 0, ""), not_der + "it does not start with a DER SEQUENCE"},
      {plain_encode(truncated, 64, "\r\n"),
       not_der + "it is not a certificate request (garbage or truncated)"},
      {plain_encode(trailing, 64, "\r\n"), not_der + "it has bytes after the request"},
      {plain_encode(cert, 64, "\r\n"),
       not_der + "it is not a certificate request (garbage or truncated)"},
      {plain_encode(tampered, 64, "\r\n"), "the request's signature does not verify"},
  };
  for (const auto& c : cases) {
    auto req = est::decode_pkcs10_body(c.body, nullptr);
    ASSERT_FALSE(req) << c.message;
    EXPECT_EQ(req.error().kind, ErrorKind::usage);
    EXPECT_EQ(req.error().message, c.message);
  }
}

TEST(EstPkcs10, TheDecodedRequestIsAtMostKMaxCsrBytes) {
  // A DER SEQUENCE header (0x30 0x83 + 3 length bytes) and filler, one byte over the limit.
  std::string big(hwca::ca::kMaxCsrBytes + 1, 'a');
  big[0] = 0x30;
  auto req = est::decode_pkcs10_body(plain_encode(big, 64, "\r\n"), nullptr);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().kind, ErrorKind::usage);
  EXPECT_EQ(req.error().message,
            "the request body is not a DER PKCS#10 request: it is larger than 64 KiB");
  // Exactly at the limit it is read (and refused as garbage, not for its size).
  std::string at_limit(hwca::ca::kMaxCsrBytes, 'a');
  at_limit[0] = 0x30;
  req = est::decode_pkcs10_body(plain_encode(at_limit, 64, "\r\n"), nullptr);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().message.find("larger than"), std::string::npos) << req.error().message;
  // A body far too long is refused before it is decoded.
  req = est::decode_pkcs10_body(std::string(3 * hwca::ca::kMaxCsrBytes, 'A'), nullptr);
  ASSERT_FALSE(req);
  EXPECT_NE(req.error().message.find("the request body is larger than"), std::string::npos)
      << req.error().message;
}

TEST(EstPkcs10, MessagesStayOnOneLine) {
  for (const std::string& body : {std::string("\x01\x1b[2J\n"), std::string("a\nb\nc\nd")}) {
    auto req = est::decode_pkcs10_body(body, nullptr);
    ASSERT_FALSE(req);
    EXPECT_EQ(req.error().message.find_first_of("\r\n\x1b"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------
// application/csrattrs

// RFC 7030 4.5.2: CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID,
// AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }. Worked out by hand:
//   ecdsa-with-SHA256  1.2.840.10045.4.3.2  06 08 2a 86 48 ce 3d 04 03 02
//   id-ecPublicKey     1.2.840.10045.2.1    06 07 2a 86 48 ce 3d 02 01
//   prime256v1         1.2.840.10045.3.1.7  06 08 2a 86 48 ce 3d 03 01 07
//   Attribute = 30 15 { id-ecPublicKey, 31 0a { prime256v1 } }
//   CsrAttrs  = 30 21 { ecdsa-with-SHA256, Attribute }
const unsigned char kP256Attrs[] = {
    0x30, 0x21, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    0x30, 0x15, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31,
    0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
};

TEST(EstCsrAttrs, AnOidAndTheKeyTypeAttributeMatchTheHandWrittenDer) {
  est::CsrAttrs attrs;
  attrs.oids = {NID_ecdsa_with_SHA256};
  attrs.key_type = NID_X9_62_id_ecPublicKey;
  attrs.curve = NID_X9_62_prime256v1;
  auto body = est::csrattrs_body(attrs);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(plain_decode(*body),
            std::string(reinterpret_cast<const char*>(kP256Attrs), sizeof kP256Attrs));
  EXPECT_EQ(body->back(), '\n');
  EXPECT_EQ(body->find('\r'), std::string::npos);
}

TEST(EstCsrAttrs, NothingToAskIsAnEmptySequence) {
  auto body = est::csrattrs_body({});
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(*body, "MAA=\n");  // 30 00
}

TEST(EstCsrAttrs, AKeyTypeWithoutACurveIsAPlainOid) {
  est::CsrAttrs attrs;
  attrs.oids = {NID_sha256WithRSAEncryption};
  attrs.key_type = NID_rsaEncryption;
  auto body = est::csrattrs_body(attrs);
  ASSERT_TRUE(body) << body.error().message;
  // 30 16 { 06 09 sha256WithRSAEncryption (1.2.840.113549.1.1.11),
  //         06 09 rsaEncryption (1.2.840.113549.1.1.1) }
  const std::string want(
      "\x30\x16\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01"
      "\x01\x01",
      24);
  EXPECT_EQ(plain_decode(*body), want);
}

TEST(EstCsrAttrs, ACurveWithoutAKeyTypeOrAnUnknownNidIsRefused) {
  est::CsrAttrs curve_only;
  curve_only.curve = NID_secp384r1;
  EXPECT_FALSE(est::csrattrs_body(curve_only));
  est::CsrAttrs unknown;
  unknown.oids = {NID_undef};
  EXPECT_FALSE(est::csrattrs_body(unknown));
  unknown.oids = {999999};
  EXPECT_FALSE(est::csrattrs_body(unknown));
}

TEST(EstCsrAttrs, OpensslAsn1parseReadsTheOidsAndTheAttribute) {
  if (!have_openssl()) GTEST_SKIP() << kOpenssl << " is absent";
  est::CsrAttrs attrs;
  attrs.oids = {NID_ecdsa_with_SHA384};
  attrs.key_type = NID_X9_62_id_ecPublicKey;
  attrs.curve = NID_secp384r1;
  auto body = est::csrattrs_body(attrs);
  ASSERT_TRUE(body);
  hwca::test::TempDir dir("hwca-est");
  write_file(dir.file("attrs.b64"), *body);
  int status = 0;
  std::string out = run(std::string(kOpenssl) + " base64 -d -in " + dir.file("attrs.b64") +
                            " -out " + dir.file("attrs.der") + " && " + kOpenssl +
                            " asn1parse -inform DER -in " + dir.file("attrs.der") + " 2>&1",
                        status);
  ASSERT_EQ(status, 0) << out;
  auto lines = lines_of(out);
  // depth 0 SEQUENCE; depth 1 the OID and the Attribute SEQUENCE; inside it the key type
  // OID and a SET holding the curve.
  ASSERT_EQ(lines.size(), 6u) << out;
  auto has = [&](size_t i, const std::string& a, const std::string& b) {
    EXPECT_NE(lines[i].find(a), std::string::npos) << lines[i];
    EXPECT_NE(lines[i].find(b), std::string::npos) << lines[i];
  };
  has(0, "d=0", "cons: SEQUENCE");
  has(1, "d=1", ":ecdsa-with-SHA384");
  has(2, "d=1", "cons: SEQUENCE");
  has(3, "d=2", ":id-ecPublicKey");
  has(4, "d=2", "cons: SET");
  has(5, "d=3", ":secp384r1");
}

}  // namespace

namespace hwca::est {
namespace {

TEST(EstCodec, MediaTypesAreCaseInsensitiveAndTakeParameters) {
  EXPECT_TRUE(is_media_type("application/pkcs10", kPkcs10Type));
  EXPECT_TRUE(is_media_type("Application/PKCS10; charset=utf-8", kPkcs10Type));
  EXPECT_TRUE(is_media_type("application/json ;x=y", "application/json"));
  EXPECT_FALSE(is_media_type("application/pkcs10x", kPkcs10Type));
  EXPECT_FALSE(is_media_type("application/json", kPkcs10Type));
  EXPECT_FALSE(is_media_type("", kPkcs10Type));
}

}  // namespace
}  // namespace hwca::est
