// Unit tests for tpm2: key URIs (tokens/tpm2/tpm2_uri.hpp): files with '/' as it is and
// percent-encoded characters, persistent handles in hex, which handles a signing key may
// live at (owner range only, never the SRK's or an EK's), the attributes that are refused,
// and the URIs hwca prints.
#include "tokens/tpm2/tpm2_uri.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using hwca::ErrorKind;
using hwca::tokens::tpm2::format_tpm2_uri;
using hwca::tokens::tpm2::handle_text;
using hwca::tokens::tpm2::parse_tpm2_uri;
using hwca::tokens::tpm2::Tpm2Uri;
using Opt = std::optional<std::string>;

Tpm2Uri parse_ok(const std::string& text) {
  auto uri = parse_tpm2_uri(text);
  EXPECT_TRUE(uri.has_value()) << text << ": " << (uri ? "" : uri.error().message);
  return uri ? *uri : Tpm2Uri{};
}

// The refusal of `text`: a usage error, one line; `needle` (if given) in its message.
std::string refused(const std::string& text, const std::string& needle = "") {
  auto uri = parse_tpm2_uri(text);
  EXPECT_FALSE(uri.has_value()) << "accepted: " << text;
  if (uri) return "";
  EXPECT_EQ(uri.error().kind, ErrorKind::usage) << text << ": " << uri.error().message;
  EXPECT_EQ(uri.error().message.find('\n'), std::string::npos) << uri.error().message;
  if (!needle.empty()) {
    EXPECT_NE(uri.error().message.find(needle), std::string::npos)
        << text << ": " << uri.error().message;
  }
  return uri.error().message;
}

TEST(Tpm2Uri, FileWithSlashesAsTheyAre) {
  Tpm2Uri u = parse_ok("tpm2:file=/etc/hwca/keys/root.pem");
  EXPECT_EQ(u.file, Opt("/etc/hwca/keys/root.pem"));
  EXPECT_FALSE(u.handle.has_value());
  EXPECT_FALSE(u.type.has_value());
  EXPECT_FALSE(u.pin_source.has_value());
  EXPECT_FALSE(u.has_pin_value);

  EXPECT_EQ(parse_ok("tpm2:file=k.pem").file, Opt("k.pem"));  // relative: kept as given
  EXPECT_EQ(parse_ok("tpm2:file=../a/./b.pem").file, Opt("../a/./b.pem"));
}

TEST(Tpm2Uri, FileWithPercentEncodedCharacters) {
  Tpm2Uri u = parse_ok("tpm2:file=/tmp/my%20keys/ca%3Broot%3Fv%251.pem");
  EXPECT_EQ(u.file, Opt("/tmp/my keys/ca;root?v%1.pem"));
  // An encoded slash is a slash too.
  EXPECT_EQ(parse_ok("tpm2:file=%2Ftmp%2fk.pem").file, Opt("/tmp/k.pem"));
  // Non-ASCII bytes (UTF-8 "é").
  EXPECT_EQ(parse_ok("tpm2:file=/tmp/cl%C3%A9.pem").file, Opt("/tmp/cl\xc3\xa9.pem"));
}

TEST(Tpm2Uri, FileCharactersThatMustBeEncodedAreRefused) {
  refused("tpm2:file=/tmp/my key.pem", "percent-encoded");
  refused("tpm2:file=/tmp/a%2", "percent-encoding");
  refused("tpm2:file=/tmp/a%zz", "percent-encoding");
  refused("tpm2:file=", "empty");
}

TEST(Tpm2Uri, HandleInHexWithAndWithout0x) {
  EXPECT_EQ(parse_ok("tpm2:handle=0x81000010").handle, std::optional<TPM2_HANDLE>(0x81000010));
  EXPECT_EQ(parse_ok("tpm2:handle=0X81000010").handle, std::optional<TPM2_HANDLE>(0x81000010));
  EXPECT_EQ(parse_ok("tpm2:handle=0x8100abcd").handle, std::optional<TPM2_HANDLE>(0x8100abcd));
  EXPECT_EQ(parse_ok("tpm2:handle=0x8100ABCD").handle, std::optional<TPM2_HANDLE>(0x8100abcd));
  EXPECT_EQ(parse_ok("tpm2:handle=0x8100AbCd").handle, std::optional<TPM2_HANDLE>(0x8100abcd));
  // Without 0x the digits are still hex (never decimal): 81000010 is 0x81000010.
  EXPECT_EQ(parse_ok("tpm2:handle=81000010").handle, std::optional<TPM2_HANDLE>(0x81000010));
  EXPECT_EQ(parse_ok("tpm2:handle=8100001f").handle, std::optional<TPM2_HANDLE>(0x8100001f));
  Tpm2Uri u = parse_ok("tpm2:handle=0x81000010");
  EXPECT_FALSE(u.file.has_value());
}

TEST(Tpm2Uri, HandleOwnerRangeBoundaries) {
  EXPECT_EQ(parse_ok("tpm2:handle=0x81000000").handle, std::optional<TPM2_HANDLE>(0x81000000));
  EXPECT_EQ(parse_ok("tpm2:handle=0x81000002").handle, std::optional<TPM2_HANDLE>(0x81000002));
  EXPECT_EQ(parse_ok("tpm2:handle=0x8100ffff").handle, std::optional<TPM2_HANDLE>(0x8100ffff));
  EXPECT_EQ(parse_ok("tpm2:handle=0x81020000").handle, std::optional<TPM2_HANDLE>(0x81020000));
  EXPECT_EQ(parse_ok("tpm2:handle=0x817fffff").handle, std::optional<TPM2_HANDLE>(0x817fffff));

  // Platform persistent range, transient objects, NV indices, hierarchies, below.
  std::string m = refused("tpm2:handle=0x81800000", "0x81800000");
  EXPECT_NE(m.find("owner persistent"), std::string::npos) << m;
  refused("tpm2:handle=0x80ffffff", "0x80ffffff");
  refused("tpm2:handle=0x80000000", "0x80000000");
  refused("tpm2:handle=0x01c00002", "0x01c00002");
  refused("tpm2:handle=0x40000001", "0x40000001");
  refused("tpm2:handle=0xffffffff", "0xffffffff");
  refused("tpm2:handle=0x0", "0x00000000");
}

TEST(Tpm2Uri, SrkHandleIsRefused) {
  std::string m = refused("tpm2:handle=0x81000001", "0x81000001");
  EXPECT_NE(m.find("storage root key"), std::string::npos) << m;
  refused("tpm2:handle=81000001", "storage root key");
}

TEST(Tpm2Uri, EndorsementKeyRangeIsRefused) {
  for (const char* h :
       {"0x81010000", "0x81010001", "0x81010002", "0x8101001a", "0x8101fffe", "0x8101ffff"}) {
    std::string m = refused(std::string("tpm2:handle=") + h, "endorsement");
    EXPECT_NE(m.find(h), std::string::npos) << m;
  }
  // Just outside it on both sides.
  EXPECT_TRUE(parse_tpm2_uri("tpm2:handle=0x8100ffff"));
  EXPECT_TRUE(parse_tpm2_uri("tpm2:handle=0x81020000"));
}

TEST(Tpm2Uri, HandleThatIsNotHexIsRefused) {
  for (const char* h : {"0x8100001g", "0x", "", "0xx81000010", "-0x81000010", "0x-1", "+81000010",
                        "0x81 000010", "0x81000010h", "persistent", "0b1000",
                        "2164260880" /* 0x81000010 in decimal: 10 digits */}) {
    refused(std::string("tpm2:handle=") + h);
  }
  refused("tpm2:handle=0x8100001g", "in hex");
}

TEST(Tpm2Uri, HandleOfMoreThanEightDigitsIsRefused) {
  refused("tpm2:handle=0x181000010", "in hex");
  // Even when the value would fit: leading zeros make it nine digits.
  refused("tpm2:handle=0x081000010", "in hex");
  refused("tpm2:handle=0x0000000081000010", "in hex");
  refused("tpm2:handle=081000010", "in hex");
}

TEST(Tpm2Uri, Type) {
  EXPECT_EQ(parse_ok("tpm2:file=/k.pem;type=private").type, Opt("private"));
  EXPECT_EQ(parse_ok("tpm2:type=public;handle=0x81000010").type, Opt("public"));
  std::string m = refused("tpm2:file=/k.pem;type=cert", "'type'");
  EXPECT_NE(m.find("cert"), std::string::npos) << m;
  refused("tpm2:file=/k.pem;type=", "'type'");
  refused("tpm2:file=/k.pem;type=Private", "'type'");
}

TEST(Tpm2Uri, PinSourceIsKept) {
  Tpm2Uri u = parse_ok("tpm2:file=/k.pem?pin-source=file:/etc/hwca/k.pw");
  EXPECT_EQ(u.pin_source, Opt("file:/etc/hwca/k.pw"));
  EXPECT_FALSE(u.has_pin_value);
  EXPECT_EQ(parse_ok("tpm2:handle=0x81000010;type=private?pin-source=env:KEY_PW").pin_source,
            Opt("env:KEY_PW"));
}

TEST(Tpm2Uri, PinValueIsFlaggedAndNotKept) {
  const std::string secret = "s3cret-Pa55";
  Tpm2Uri u = parse_ok("tpm2:file=/k.pem?pin-value=" + secret);
  EXPECT_TRUE(u.has_pin_value);
  EXPECT_FALSE(u.pin_source.has_value());
  for (const Opt& s : {u.file, u.type, u.pin_source}) {
    if (s) {
      EXPECT_EQ(s->find(secret), std::string::npos) << *s;
    }
  }
  // Printing the URI again never brings it back.
  EXPECT_EQ(format_tpm2_uri(u).find(secret), std::string::npos);
  Tpm2Uri both = parse_ok("tpm2:handle=0x81000010?pin-source=env:A&pin-value=" + secret);
  EXPECT_TRUE(both.has_pin_value);
  EXPECT_EQ(both.pin_source, Opt("env:A"));
}

TEST(Tpm2Uri, BothFileAndHandleAreRefused) {
  refused("tpm2:file=/k.pem;handle=0x81000010", "exactly one");
  refused("tpm2:handle=0x81000010;file=/k.pem", "exactly one");
}

TEST(Tpm2Uri, NeitherFileNorHandleIsRefused) {
  refused("tpm2:", "exactly one");
  refused("tpm2:type=private", "exactly one");
  refused("tpm2:x-label=a?pin-source=env:A", "exactly one");
}

TEST(Tpm2Uri, TctiInTheUriIsRefused) {
  std::string m = refused("tpm2:file=/k.pem;tcti=swtpm:port=2321", "--tcti");
  EXPECT_NE(m.find("HWCA_TCTI"), std::string::npos) << m;
  refused("tpm2:tcti=device:/dev/tpmrm0;handle=0x81000010", "--tcti");
  refused("tpm2:file=/k.pem?tcti=swtpm:port=2321", "--tcti");
}

TEST(Tpm2Uri, UnknownAttributesAreRefused) {
  refused("tpm2:file=/k.pem;object=root", "'object'");
  refused("tpm2:handle=0x81000010;id=%01", "'id'");
  refused("tpm2:file=/k.pem?module-path=/usr/lib/x.so", "'module-path'");
  refused("tpm2:file=/k.pem?password=x", "'password'");
  // x-... attributes are the URI's user's own and ignored.
  Tpm2Uri u = parse_ok("tpm2:file=/k.pem;x-comment=root%20CA?x-owner=ops");
  EXPECT_EQ(u.file, Opt("/k.pem"));
}

TEST(Tpm2Uri, RepeatedAttributesAndOtherSchemesAreRefused) {
  refused("tpm2:file=/a.pem;file=/b.pem", "twice");
  refused("tpm2:handle=0x81000010;handle=0x81000011", "twice");
  refused("pkcs11:object=root", "not a tpm2");
  refused("file=/k.pem");
  refused("tpm2:file=/k.pem?", "empty query");
  refused("tpm2:file=/k.pem;;type=private", "empty attribute");
}

TEST(Tpm2Uri, SchemeIsCaseInsensitive) {
  EXPECT_EQ(parse_ok("TPM2:file=/k.pem").file, Opt("/k.pem"));
  EXPECT_EQ(parse_ok("Tpm2:handle=0x81000010").handle, std::optional<TPM2_HANDLE>(0x81000010));
}

TEST(Tpm2Uri, HandleText) {
  EXPECT_EQ(handle_text(0x81000010), "0x81000010");
  EXPECT_EQ(handle_text(0x8100abcd), "0x8100abcd");
  EXPECT_EQ(handle_text(0x40000001), "0x40000001");
  EXPECT_EQ(handle_text(0x1), "0x00000001");
}

TEST(Tpm2Uri, FormatFileAndHandle) {
  Tpm2Uri f;
  f.file = "/var/lib/hwca/root.pem";
  EXPECT_EQ(format_tpm2_uri(f), "tpm2:file=/var/lib/hwca/root.pem");
  Tpm2Uri h;
  h.handle = 0x8100abcd;
  EXPECT_EQ(format_tpm2_uri(h), "tpm2:handle=0x8100abcd");
  // type and pin-source are not part of the printed name of a key.
  Tpm2Uri full = parse_ok("tpm2:file=/k.pem;type=private?pin-source=env:PW");
  EXPECT_EQ(format_tpm2_uri(full), "tpm2:file=/k.pem");
  Tpm2Uri hfull = parse_ok("tpm2:handle=81000010;type=private?pin-source=file:/p");
  EXPECT_EQ(format_tpm2_uri(hfull), "tpm2:handle=0x81000010");
}

TEST(Tpm2Uri, FormatEncodesWhatMustBeEncodedAndRoundTrips) {
  const char* paths[] = {"/tmp/my keys/root.pem", "/tmp/a;b=c&d?e#f%g.pem",
                         "/tmp/cl\xc3\xa9/k.pem", "relative/k.pem",
                         "/tmp/tab\there",        "/tmp/(paren)[bracket]@host:1,2+3!$'*~_-.pem"};
  for (const char* path : paths) {
    Tpm2Uri in;
    in.file = path;
    std::string text = format_tpm2_uri(in);
    EXPECT_EQ(text.find(' '), std::string::npos) << text;
    EXPECT_EQ(text.find(';'), std::string::npos) << text;
    EXPECT_EQ(text.find('?'), std::string::npos) << text;
    Tpm2Uri back = parse_ok(text);
    EXPECT_EQ(back.file, Opt(path)) << text;
    EXPECT_EQ(format_tpm2_uri(back), text);
  }
  EXPECT_EQ(
      [] {
        Tpm2Uri in;
        in.file = "/tmp/my keys/a;b.pem";
        return format_tpm2_uri(in);
      }(),
      "tpm2:file=/tmp/my%20keys/a%3Bb.pem");
  for (TPM2_HANDLE h : {0x81000000u, 0x81000010u, 0x8100abcdu, 0x81020000u, 0x817fffffu}) {
    Tpm2Uri in;
    in.handle = h;
    Tpm2Uri back = parse_ok(format_tpm2_uri(in));
    EXPECT_EQ(back.handle, std::optional<TPM2_HANDLE>(h));
    EXPECT_FALSE(back.file.has_value());
  }
}

}  // namespace
