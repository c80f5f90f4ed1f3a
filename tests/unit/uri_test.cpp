// Unit tests for the shared key URI parser (src/common/uri.hpp), against RFC 7512 and
// RFC 3986. Expected values are decoded by hand from the RFC text.
#include "common/uri.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using hwca::ErrorKind;
using hwca::Uri;
using Attrs = std::vector<std::pair<std::string, std::string>>;

// RFC 7512 section 3.3, the multi-line examples joined (the RFC's line breaks are not part
// of the URIs).
const char* const kRfc7512Examples[] = {
    "pkcs11:",
    "pkcs11:object=my-pubkey;type=public",
    "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
    "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
    "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
    "?pin-source=file:/etc/token_pin",
    "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
    "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
    "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc."
    "?pin-value=the-pin",
    "pkcs11:slot-description=Sun%20Metaslot",
    "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;"
    "library-version=1.23",
    "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;"
    "id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
    "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
    "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;"
    "type=cert",
    "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a"
    "?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
};

Uri parse_ok(const std::string& text) {
  auto uri = hwca::parse_uri(text);
  EXPECT_TRUE(uri.has_value()) << text << ": " << (uri ? "" : uri.error().message);
  return uri ? *uri : Uri{};
}

void expect_usage_error(const std::string& text) {
  auto uri = hwca::parse_uri(text);
  ASSERT_FALSE(uri.has_value()) << "accepted: " << text;
  EXPECT_EQ(uri.error().kind, ErrorKind::usage) << text;
  EXPECT_FALSE(uri.error().message.empty()) << text;
}

TEST(UriScheme, SchemeIsTheTextBeforeTheFirstColonInLowerCase) {
  EXPECT_EQ(hwca::uri_scheme("pkcs11:token=a"), "pkcs11");
  EXPECT_EQ(hwca::uri_scheme("tpm2:handle=0x81000001"), "tpm2");
  EXPECT_EQ(hwca::uri_scheme("PKCS11:token=a"), "pkcs11");  // RFC 3986 3.1: case-insensitive
  EXPECT_EQ(hwca::uri_scheme("pkcs11:"), "pkcs11");
}

TEST(UriScheme, NoSchemeGivesEmpty) {
  EXPECT_EQ(hwca::uri_scheme(""), "");
  EXPECT_EQ(hwca::uri_scheme("token=a;object=b"), "");
  EXPECT_EQ(hwca::uri_scheme(":token=a"), "");
  EXPECT_EQ(hwca::uri_scheme("/etc/key.pem"), "");
  EXPECT_EQ(hwca::uri_scheme("my key:x"), "");  // a space cannot be part of a scheme
}

TEST(ParseUri, AllRfc7512ExamplesParse) {
  for (const char* text : kRfc7512Examples) {
    auto uri = hwca::parse_uri(text);
    ASSERT_TRUE(uri.has_value()) << text << ": " << uri.error().message;
    EXPECT_EQ(uri->scheme, "pkcs11") << text;
  }
}

TEST(ParseUri, EmptyPkcs11UriHasNoAttributes) {
  Uri uri = parse_ok("pkcs11:");
  EXPECT_EQ(uri.scheme, "pkcs11");
  EXPECT_TRUE(uri.path.empty());
  EXPECT_TRUE(uri.query.empty());
}

TEST(ParseUri, DecodesPathAndQueryInOrder) {
  Uri uri = parse_ok(kRfc7512Examples[3]);
  const Attrs path = {
      {"token", "The Software PKCS#11 Softtoken"},
      {"manufacturer", "Snake Oil, Inc."},
      {"model", "1.0"},
      {"object", "my-certificate"},
      {"type", "cert"},
      {"id", std::string("\x69\x95\x3E\x5C\xF4\xBD\xEC\x91", 8)},
      {"serial", ""},
  };
  EXPECT_EQ(uri.path, path);
  EXPECT_EQ(uri.query, (Attrs{{"pin-source", "file:/etc/token_pin"}}));
  EXPECT_EQ(uri.path_attr("serial"), std::optional<std::string>(""));
  EXPECT_EQ(uri.path_attr("pin-source"), std::nullopt);  // a query attribute, not a path one
  EXPECT_EQ(uri.query_attr("pin-source"), std::optional<std::string>("file:/etc/token_pin"));
}

TEST(ParseUri, EncodedSemicolonAndPercentStayInTheValue) {
  Uri uri = parse_ok(kRfc7512Examples[10]);
  EXPECT_EQ(uri.path_attr("token"), std::optional<std::string>("A name with a substring %;"));
  EXPECT_EQ(uri.path_attr("object"), std::optional<std::string>("my-certificate"));
  EXPECT_EQ(uri.path_attr("type"), std::optional<std::string>("cert"));
  EXPECT_EQ(uri.path.size(), 3u);
}

TEST(ParseUri, HexDigitsAreCaseInsensitive) {
  Uri uri = parse_ok(kRfc7512Examples[9]);
  EXPECT_EQ(uri.path_attr("token"), std::optional<std::string>("My token% created by Joe"));
  EXPECT_EQ(uri.path_attr("id"), std::optional<std::string>(
                                     std::string("\x01\x02\x03\xBA\xDD\xCA\xFE\x04\x05\x06", 10)));
}

TEST(ParseUri, Utf8BytesDecode) {
  Uri uri = parse_ok(kRfc7512Examples[11]);
  EXPECT_EQ(uri.path_attr("token"),
            std::optional<std::string>("Name with a small A with acute: \xC3\xA1"));
}

TEST(ParseUri, QueryAttributes) {
  EXPECT_EQ(parse_ok(kRfc7512Examples[4]).query, (Attrs{{"module-name", "mypkcs11"}}));
  EXPECT_EQ(parse_ok(kRfc7512Examples[5]).query, (Attrs{{"module-path", "/mnt/libmypkcs11.so.1"}}));
  EXPECT_EQ(parse_ok(kRfc7512Examples[6]).query, (Attrs{{"pin-value", "the-pin"}}));
  Uri vendor = parse_ok(kRfc7512Examples[12]);
  EXPECT_EQ(vendor.path_attr("vendor-aaa"), std::optional<std::string>("value-a"));
  EXPECT_EQ(vendor.query,
            (Attrs{{"pin-source", "file:/etc/token_pin"}, {"vendor-bbb", "value-b"}}));
}

TEST(ParseUri, QueryMayHoldSlashQuestionMarkAndBar) {  // pk11-qchar, RFC 7512 2.3
  Uri uri = parse_ok("pkcs11:token=a?pin-source=|/usr/bin/pin?x");
  EXPECT_EQ(uri.query_attr("pin-source"), std::optional<std::string>("|/usr/bin/pin?x"));
}

TEST(ParseUri, Refusals) {
  expect_usage_error("");
  expect_usage_error("token=a;object=b");                            // no scheme
  expect_usage_error(":token=a");                                    // empty scheme
  expect_usage_error("pkcs11:token");                                // attribute without '='
  expect_usage_error("pkcs11:token=a;object");                       // second attribute without '='
  expect_usage_error("pkcs11:token=a?pin-source");                   // query attribute without '='
  expect_usage_error("pkcs11:token=a;token=b");                      // repeated path attribute
  expect_usage_error("pkcs11:token=a?module-name=x&module-name=y");  // repeated query attr
  expect_usage_error("pkcs11:token=a%4");                            // truncated %XX
  expect_usage_error("pkcs11:token=%zz");                            // not hex
  expect_usage_error("pkcs11:token=a%");                             // trailing %
  expect_usage_error("pkcs11:token=a%?pin-source=file:/x");
  expect_usage_error("pkcs11:token=a?pin-source=file:/x%g0");
  expect_usage_error("pkcs11:token=a b");   // raw space
  expect_usage_error("pkcs11:object=a/b");  // '/' is not a pk11-pchar
  expect_usage_error("pkcs11:object=a\"b");
  expect_usage_error("pkcs11:object=a#b");
  expect_usage_error("pkcs11:object=a\tb");
  expect_usage_error("pkcs11:object=\xC3\xA1");               // raw non-ASCII bytes
  expect_usage_error(std::string("pkcs11:object=a\0b", 17));  // raw NUL
  expect_usage_error("pkcs11:token=a?pin-source=file:/x;y");  // ';' is not a pk11-qchar
  expect_usage_error("pkcs11:token=a?pin-source=a b");
  expect_usage_error("pkcs11:token=a?");  // empty query after '?'
  expect_usage_error("pkcs11:?");
  expect_usage_error("pkcs11:token=a;;object=b");  // empty attribute
  expect_usage_error("pkcs11:token=a;");           // trailing ';' (RFC 7512 grammar)
  expect_usage_error("pkcs11:token=a?pin-source=x&&module-name=y");
  expect_usage_error("pkcs11:=a");  // attribute without a name
}

// Characters allowed unencoded by RFC 7512 2.3 (pk11-pchar / pk11-qchar), besides %XX.
bool allowed(char c, bool query) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  const std::string extra = query ? ":[]@!$'()*+,=/?|" : ":[]@!$'()*+,=&";
  return unreserved.find(c) != std::string::npos || extra.find(c) != std::string::npos;
}

void expect_well_formed_encoding(const std::string& encoded, bool query) {
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%') {
      ASSERT_LT(i + 2, encoded.size()) << encoded;
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(encoded[i + 1])) &&
                  std::isxdigit(static_cast<unsigned char>(encoded[i + 2])))
          << encoded;
      i += 2;
    } else {
      EXPECT_TRUE(allowed(encoded[i], query)) << "'" << encoded[i] << "' in " << encoded;
    }
  }
}

// Space, the separators, '%', '/', '#', non-ASCII bytes and a NUL byte.
const std::string kAwkward =
    std::string("a b;c?d%e/f&g=h#i\xC3\xA1\xFF\x01") + std::string("\0z", 2);

TEST(PercentEncode, KnownEncodings) {  // RFC 3986 2.1: %XX of the octet, uppercase hex
  EXPECT_EQ(hwca::percent_encode("my-key_1.0~"), "my-key_1.0~");
  EXPECT_EQ(hwca::percent_encode("a b"), "a%20b");
  EXPECT_EQ(hwca::percent_encode("100%"), "100%25");
  EXPECT_EQ(hwca::percent_encode("x;y"), "x%3By");
  EXPECT_EQ(hwca::percent_encode("x?y"), "x%3Fy");
  EXPECT_EQ(hwca::percent_encode("x/y"), "x%2Fy");
  EXPECT_EQ(hwca::percent_encode(std::string("\0", 1)), "%00");
  EXPECT_EQ(hwca::percent_encode("\xC3\xA1"), "%C3%A1");
  EXPECT_EQ(hwca::percent_encode("x&y", true), "x%26y");
  EXPECT_EQ(hwca::percent_encode("x;y", true), "x%3By");
  EXPECT_EQ(hwca::percent_encode("", true), "");
}

TEST(PercentEncode, OutputUsesOnlyAllowedCharacters) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  expect_well_formed_encoding(hwca::percent_encode(all), false);
  expect_well_formed_encoding(hwca::percent_encode(all, true), true);
}

TEST(FormatUri, RoundTripsAwkwardValues) {
  Uri in{"pkcs11",
         {{"token", kAwkward},
          {"object", "my key; 50% done?"},
          {"id", std::string("\0\x01\xff", 3)},
          {"serial", ""}},
         {{"pin-source", "file:/etc/hwca/pin file"}, {"x-note", kAwkward}}};
  std::string text = hwca::format_uri(in);
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  EXPECT_EQ(text.find('#'), std::string::npos) << text;
  auto out = hwca::parse_uri(text);
  ASSERT_TRUE(out.has_value()) << text << ": " << out.error().message;
  EXPECT_EQ(out->scheme, "pkcs11");
  EXPECT_EQ(out->path, in.path);
  EXPECT_EQ(out->query, in.query);
}

TEST(FormatUri, RoundTripsEveryByteInPathAndQuery) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  Uri in{"pkcs11", {{"object", all}}, {{"x-all", all}}};
  auto out = hwca::parse_uri(hwca::format_uri(in));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->path, in.path);
  EXPECT_EQ(out->query, in.query);
}

TEST(FormatUri, ParsedRfcExamplesFormatBackToEqualAttributes) {
  for (const char* text : kRfc7512Examples) {
    Uri first = parse_ok(text);
    std::string formatted = hwca::format_uri(first);
    auto second = hwca::parse_uri(formatted);
    ASSERT_TRUE(second.has_value()) << formatted << ": " << second.error().message;
    EXPECT_EQ(second->scheme, first.scheme) << text;
    EXPECT_EQ(second->path, first.path) << text;
    EXPECT_EQ(second->query, first.query) << text;
  }
  EXPECT_EQ(hwca::format_uri(Uri{"pkcs11", {}, {}}), "pkcs11:");
}

}  // namespace
