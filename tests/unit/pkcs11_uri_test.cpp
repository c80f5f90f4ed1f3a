// Unit tests for pkcs11: URIs (tokens/pkcs11/pkcs11_uri.hpp): RFC 7512 section 3.3 examples
// decoded by hand, refusals, and the URIs hwca prints for tokens and keys.
#include "tokens/pkcs11/pkcs11_uri.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace {

using hwca::ErrorKind;
using hwca::tokens::pkcs11::parse_pkcs11_uri;
using hwca::tokens::pkcs11::Pkcs11Uri;
using Opt = std::optional<std::string>;

Pkcs11Uri parse_ok(const std::string& text) {
  auto uri = parse_pkcs11_uri(text);
  EXPECT_TRUE(uri.has_value()) << text << ": " << (uri ? "" : uri.error().message);
  return uri ? *uri : Pkcs11Uri{};
}

void expect_usage_error(const std::string& text) {
  auto uri = parse_pkcs11_uri(text);
  ASSERT_FALSE(uri.has_value()) << "accepted: " << text;
  EXPECT_EQ(uri.error().kind, ErrorKind::usage) << text;
}

// Every string field of a parsed URI, to check that a value is not kept anywhere.
std::vector<Opt> all_strings(const Pkcs11Uri& u) {
  return {u.token,
          u.manufacturer,
          u.serial,
          u.model,
          u.slot_description,
          u.slot_manufacturer,
          u.library_manufacturer,
          u.library_description,
          u.library_version,
          u.object,
          u.id,
          u.type,
          u.module_path,
          u.module_name,
          u.pin_source};
}

TEST(Pkcs11Uri, EmptyUriSelectsNothing) {
  Pkcs11Uri u = parse_ok("pkcs11:");
  for (const Opt& s : all_strings(u)) EXPECT_FALSE(s.has_value());
  EXPECT_FALSE(u.slot_id.has_value());
  EXPECT_FALSE(u.has_pin_value);
  EXPECT_FALSE(u.selects_object());
}

TEST(Pkcs11Uri, Rfc7512ObjectAndType) {
  Pkcs11Uri u = parse_ok("pkcs11:object=my-pubkey;type=public");
  EXPECT_EQ(u.object, Opt("my-pubkey"));
  EXPECT_EQ(u.type, Opt("public"));
  EXPECT_TRUE(u.selects_object());
  EXPECT_FALSE(u.token.has_value());

  u = parse_ok("pkcs11:object=my-key;type=private?pin-source=file:/etc/token");
  EXPECT_EQ(u.object, Opt("my-key"));
  EXPECT_EQ(u.type, Opt("private"));
  EXPECT_EQ(u.pin_source, Opt("file:/etc/token"));
}

TEST(Pkcs11Uri, Rfc7512FullCertificateExample) {
  Pkcs11Uri u = parse_ok(
      "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
      "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
      "?pin-source=file:/etc/token_pin");
  EXPECT_EQ(u.token, Opt("The Software PKCS#11 Softtoken"));
  EXPECT_EQ(u.manufacturer, Opt("Snake Oil, Inc."));
  EXPECT_EQ(u.model, Opt("1.0"));
  EXPECT_EQ(u.object, Opt("my-certificate"));
  EXPECT_EQ(u.type, Opt("cert"));
  EXPECT_EQ(u.id, Opt(std::string("\x69\x95\x3E\x5C\xF4\xBD\xEC\x91", 8)));
  EXPECT_EQ(u.serial, Opt(""));  // present but empty
  EXPECT_EQ(u.pin_source, Opt("file:/etc/token_pin"));
  EXPECT_FALSE(u.has_pin_value);
}

TEST(Pkcs11Uri, Rfc7512ModuleQueryAttributes) {
  Pkcs11Uri u = parse_ok("pkcs11:object=my-sign-key;type=private?module-name=mypkcs11");
  EXPECT_EQ(u.module_name, Opt("mypkcs11"));
  EXPECT_FALSE(u.module_path.has_value());
  u = parse_ok("pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1");
  EXPECT_EQ(u.module_path, Opt("/mnt/libmypkcs11.so.1"));
  EXPECT_FALSE(u.module_name.has_value());
  u = parse_ok("pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(u.module_path, Opt("/usr/lib/softhsm/libsofthsm2.so"));
}

TEST(Pkcs11Uri, Rfc7512PinValueIsFlaggedButNotKept) {
  Pkcs11Uri u = parse_ok(
      "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc."
      "?pin-value=the-pin");
  EXPECT_EQ(u.token, Opt("Software PKCS#11 softtoken"));
  EXPECT_EQ(u.manufacturer, Opt("Snake Oil, Inc."));
  EXPECT_TRUE(u.has_pin_value);
  EXPECT_FALSE(u.pin_source.has_value());
  for (const Opt& s : all_strings(u)) {
    if (s) {
      EXPECT_EQ(s->find("the-pin"), std::string::npos) << *s;
    }
  }
}

TEST(Pkcs11Uri, Rfc7512SlotAndLibraryAttributes) {
  Pkcs11Uri u = parse_ok("pkcs11:slot-description=Sun%20Metaslot");
  EXPECT_EQ(u.slot_description, Opt("Sun Metaslot"));
  u = parse_ok(
      "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;"
      "library-version=1.23");
  EXPECT_EQ(u.library_manufacturer, Opt("Snake Oil, Inc."));
  EXPECT_EQ(u.library_description, Opt("Soft Token Library"));
  EXPECT_EQ(u.library_version, Opt("1.23"));
  u = parse_ok("pkcs11:slot-manufacturer=Snake%20Oil;slot-id=7");
  EXPECT_EQ(u.slot_manufacturer, Opt("Snake Oil"));
  EXPECT_EQ(u.slot_id, std::optional<unsigned long>(7));
}

TEST(Pkcs11Uri, Rfc7512IdWithMixedCaseHex) {
  Pkcs11Uri u = parse_ok(
      "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;"
      "id=%01%02%03%Ba%dd%Ca%fe%04%05%06");
  EXPECT_EQ(u.token, Opt("My token% created by Joe"));
  EXPECT_EQ(u.library_version, Opt("3"));
  EXPECT_EQ(u.id, Opt(std::string("\x01\x02\x03\xBA\xDD\xCA\xFE\x04\x05\x06", 10)));
  EXPECT_TRUE(u.selects_object());
}

TEST(Pkcs11Uri, Rfc7512EncodedDelimitersAndUtf8) {
  Pkcs11Uri u = parse_ok(
      "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert");
  EXPECT_EQ(u.token, Opt("A name with a substring %;"));
  EXPECT_EQ(u.object, Opt("my-certificate"));
  EXPECT_EQ(u.type, Opt("cert"));
  u = parse_ok(
      "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;"
      "type=cert");
  EXPECT_EQ(u.token, Opt("Name with a small A with acute: \xC3\xA1"));
}

// RFC 7512's last example names its vendor attributes vendor-aaa / vendor-bbb; hwca accepts
// vendor attributes only with the x- prefix (header) and refuses other unknown names.
TEST(Pkcs11Uri, VendorAttributesWithXPrefixAreAcceptedAndIgnored) {
  Pkcs11Uri u = parse_ok(
      "pkcs11:token=my-token;object=my-certificate;type=cert;x-aaa=value-a"
      "?pin-source=file:/etc/token_pin&x-bbb=value-b");
  EXPECT_EQ(u.token, Opt("my-token"));
  EXPECT_EQ(u.object, Opt("my-certificate"));
  EXPECT_EQ(u.type, Opt("cert"));
  EXPECT_EQ(u.pin_source, Opt("file:/etc/token_pin"));
  for (const Opt& s : all_strings(u)) {
    if (s) {
      EXPECT_EQ(s->find("value-"), std::string::npos) << *s;
    }
  }
}

TEST(Pkcs11Uri, EveryObjectTypeIsAccepted) {
  for (const char* type : {"public", "private", "cert", "secret-key", "data"}) {
    EXPECT_EQ(parse_ok(std::string("pkcs11:type=") + type).type, Opt(type));
  }
}

TEST(Pkcs11Uri, SlotIdIsDecimal) {
  EXPECT_EQ(parse_ok("pkcs11:slot-id=0").slot_id, std::optional<unsigned long>(0));
  EXPECT_EQ(parse_ok("pkcs11:slot-id=1234567").slot_id, std::optional<unsigned long>(1234567));
  for (const char* bad :
       {"pkcs11:slot-id=abc", "pkcs11:slot-id=", "pkcs11:slot-id=-1", "pkcs11:slot-id=12abc",
        "pkcs11:slot-id=%20", "pkcs11:slot-id=+3", "pkcs11:slot-id=99999999999999999999999999"}) {
    expect_usage_error(bad);
  }
}

TEST(Pkcs11Uri, Refusals) {
  expect_usage_error("token=a");                 // no scheme
  expect_usage_error("tpm2:handle=0x81000001");  // wrong scheme
  expect_usage_error("file:/etc/key.pem");
  expect_usage_error("pkcs11:token");            // no '='
  expect_usage_error("pkcs11:token=a;token=b");  // repeated
  expect_usage_error("pkcs11:object=a?pin-source=env:A&pin-source=env:B");
  expect_usage_error("pkcs11:token=%4");  // bad percent-encoding
  expect_usage_error("pkcs11:token=%zz");
  expect_usage_error("pkcs11:token=ab%");
  expect_usage_error("pkcs11:token=a b");                   // raw space
  expect_usage_error("pkcs11:color=red");                   // unknown standard attribute
  expect_usage_error("pkcs11:token=a?color=red");           // unknown query attribute
  expect_usage_error("pkcs11:token=a;vendor-aaa=value-a");  // vendor name without x-
  expect_usage_error("pkcs11:type=bogus");
  expect_usage_error("pkcs11:type=");
  expect_usage_error("pkcs11:token=a?");           // empty query
  expect_usage_error("pkcs11:token=a;;object=b");  // empty attribute
}

TEST(Pkcs11Uri, UnknownAttributeErrorNamesIt) {
  auto uri = parse_pkcs11_uri("pkcs11:color=red");
  ASSERT_FALSE(uri.has_value());
  EXPECT_NE(uri.error().message.find("color"), std::string::npos) << uri.error().message;
}

TEST(Pkcs11Uri, BadPinValueErrorsDoNotShowThePin) {
  for (const char* text :
       {"pkcs11:token=a?pin-value=s3cr%zz", "pkcs11:token=a?pin-value=s3cr%4",
        "pkcs11:token=a?pin-value=s3cr et", "pkcs11:token=a?pin-value=s3cret&color=red",
        "pkcs11:color=red?pin-value=s3cret", "pkcs11:token=a?pin-value=s3cret&pin-value=s3cret"}) {
    auto uri = parse_pkcs11_uri(text);
    ASSERT_FALSE(uri.has_value()) << text;
    EXPECT_EQ(uri.error().kind, ErrorKind::usage) << text;
    EXPECT_EQ(uri.error().message.find("s3cr"), std::string::npos)
        << text << " -> " << uri.error().message;
  }
}

TEST(Hex, LowerOrUpperCaseHexOfEveryByte) {
  EXPECT_EQ(hwca::tokens::pkcs11::hex(""), "");
  std::string h = hwca::tokens::pkcs11::hex(std::string("\x00\x01\x7f\x80\xab\xff", 6));
  for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(h, "00017f80abff");
}

TEST(TokenUri, ParsesBackToTheSameToken) {
  std::string text = hwca::tokens::pkcs11::token_uri("CA root; 100% #1", "SoftHSM project",
                                                     "a1b2c3/d4?", "SoftHSM v2");
  Pkcs11Uri u = parse_ok(text);
  EXPECT_EQ(u.token, Opt("CA root; 100% #1"));
  EXPECT_EQ(u.manufacturer, Opt("SoftHSM project"));
  EXPECT_EQ(u.serial, Opt("a1b2c3/d4?"));
  EXPECT_EQ(u.model, Opt("SoftHSM v2"));
  EXPECT_FALSE(u.selects_object());
}

TEST(KeyUri, EncodesEveryIdByteAndParsesBack) {
  std::string token = hwca::tokens::pkcs11::token_uri("ca", "SoftHSM project", "123", "SoftHSM v2");
  const std::string id("AZaz09\x00\x7f\x80\xff", 10);
  std::string text = hwca::tokens::pkcs11::key_uri(token, "root key;v2 %", id);
  // Every id byte as %XX, even letters and digits (RFC 7512 2.3: an id SHOULD be entirely
  // percent-encoded).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex(";id=((%[0-9A-Fa-f]{2})+)(;|$)"))) << text;
  EXPECT_EQ(m[1].str().size(), 3 * id.size()) << text;
  Pkcs11Uri u = parse_ok(text);
  EXPECT_EQ(u.token, Opt("ca"));
  EXPECT_EQ(u.serial, Opt("123"));
  EXPECT_EQ(u.object, Opt("root key;v2 %"));
  EXPECT_EQ(u.id, Opt(id));
}

TEST(KeyUri, LabelOnlyOrIdOnly) {
  std::string token = hwca::tokens::pkcs11::token_uri("ca", "m", "s", "mod");
  Pkcs11Uri label_only = parse_ok(hwca::tokens::pkcs11::key_uri(token, "k", ""));
  EXPECT_EQ(label_only.object, Opt("k"));
  EXPECT_FALSE(label_only.id.has_value());
  Pkcs11Uri id_only = parse_ok(hwca::tokens::pkcs11::key_uri(token, "", "\x01"));
  EXPECT_FALSE(id_only.object.has_value());
  EXPECT_EQ(id_only.id, Opt("\x01"));
}

}  // namespace
