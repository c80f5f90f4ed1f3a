// Unit tests for src/ca/san.hpp: DNS names (RFC 1034/1123 LDH labels, RFC 5280 4.2.1.6),
// wildcards (one whole leading label, never over a top-level name), IP addresses (4 or 16
// octets, IPv6 shown in RFC 5952 canonical form), email addresses and URIs; IA5Strings with
// a NUL or non-ASCII byte; the GENERAL_NAME types hwca does not issue; and the encoding back
// into GENERAL_NAMES.
#include "ca/san.hpp"

#include <gtest/gtest.h>

#include "support/test_csr.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::parse_san;
using hwca::ca::San;
using hwca::ca::san_from_general_name;
using hwca::ca::SanRules;
using hwca::ca::SanType;
using hwca::test::general_name;

const SanRules kStrict{};
const SanRules kWildcard{true};

void expect_ok(const std::string& text, const SanRules& rules = kStrict) {
  auto san = parse_san(text, rules);
  ASSERT_TRUE(san) << text << ": " << san.error().message;
  EXPECT_EQ(san->text(), text);
}

// Refused as a usage error whose one-line message holds `needle`.
void expect_refused(const std::string& text, const std::string& needle,
                    const SanRules& rules = kStrict) {
  auto san = parse_san(text, rules);
  ASSERT_FALSE(san) << text << " was accepted as " << san->text();
  EXPECT_EQ(san.error().kind, ErrorKind::usage);
  EXPECT_NE(san.error().message.find(needle), std::string::npos)
      << text << ": " << san.error().message;
  EXPECT_EQ(san.error().message.find('\n'), std::string::npos);
  for (char c : san.error().message) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7f) << san.error().message;
  }
}

std::string label(size_t n) { return std::string(n, 'a'); }

TEST(SanDns, HostNamesOfLdhLabelsAreAccepted) {
  expect_ok("DNS:a.example");
  expect_ok("DNS:localhost");
  expect_ok("DNS:kube-apiserver.kube-system.svc.cluster.local");
  expect_ok("DNS:0.example");              // RFC 1123 allows a leading digit
  expect_ok("DNS:xn--bcher-kva.example");  // an IDN as its A-label
  expect_ok("DNS:A.Example");
  expect_ok("DNS:" + label(63) + ".example");  // the longest label
  // 253 characters, the longest name: 63 + 1 + 63 + 1 + 63 + 1 + 61.
  std::string longest = label(63) + "." + label(63) + "." + label(63) + "." + label(61);
  ASSERT_EQ(longest.size(), 253u);
  expect_ok("DNS:" + longest);
}

TEST(SanDns, MalformedNamesAreRefused) {
  expect_refused("DNS:", "is empty");
  expect_refused("DNS:a.example.", "ends with a dot");
  expect_refused("DNS:.a.example", "invalid label");
  expect_refused("DNS:a..example", "invalid label");
  expect_refused("DNS:a b.example", "invalid label");
  expect_refused("DNS:a_b.example", "invalid label");
  expect_refused("DNS:-a.example", "invalid label");
  expect_refused("DNS:a-.example", "invalid label");
  expect_refused("DNS:a.example/x", "invalid label");
  expect_refused("DNS:a@example", "invalid label");
  expect_refused("DNS:10.0.0.1:443", "invalid label");
  expect_refused(
      "DNS:b\xc3\xbc"
      "cher.example",
      "invalid label");  // U-label, not A-label
  expect_refused("DNS:" + label(64) + ".example", "invalid label");
  std::string too_long = label(63) + "." + label(63) + "." + label(63) + "." + label(62);
  ASSERT_EQ(too_long.size(), 254u);
  expect_refused("DNS:" + too_long, "longer than 253");
}

TEST(SanDns, AWildcardIsOneWholeLeadingLabelAndOnlyWhenAllowed) {
  expect_refused("DNS:*.a.example", "wildcard, which this profile does not allow");
  expect_ok("DNS:*.a.example", kWildcard);
  expect_ok("DNS:*.svc.cluster.local", kWildcard);
  expect_refused("DNS:*.example", "wildcard over a top-level name", kWildcard);
  expect_refused("DNS:*", "wildcard over a top-level name", kWildcard);
  expect_refused("DNS:a.*.example", "invalid label", kWildcard);
  expect_refused("DNS:*a.example", "invalid label", kWildcard);
  expect_refused("DNS:a*.b.example", "invalid label", kWildcard);
  expect_refused("DNS:**.a.example", "invalid label", kWildcard);
  expect_refused("DNS:*.*.a.example", "invalid label", kWildcard);
}

TEST(SanIp, Ipv4AddressesAreDottedQuads) {
  expect_ok("IP:10.0.0.1");
  expect_ok("IP:0.0.0.0");
  expect_ok("IP:255.255.255.255");
  expect_refused("IP:10.0.0.256", "is not valid");
  expect_refused("IP:10.0.0", "is not valid");
  expect_refused("IP:10.0.0.1.2", "is not valid");
  expect_refused("IP:10.0.0.1/8", "is not valid");
  expect_refused("IP: 10.0.0.1", "is not valid");
  expect_refused("IP:a.example", "is not valid");
  expect_refused("IP:", "is not valid");
}

// RFC 5952 section 4: leading zeros dropped, the longest run of zero groups (the first of
// equal runs, never a single group) shortened to "::", lower case.
TEST(SanIp, Ipv6AddressesAreShownInTheirCanonicalForm) {
  auto canonical = [](const std::string& in) {
    auto san = parse_san("IP:" + in, kStrict);
    EXPECT_TRUE(san) << in << ": " << san.error().message;
    return san ? san->value : std::string();
  };
  EXPECT_EQ(canonical("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(canonical("2001:0db8::0001"), "2001:db8::1");
  EXPECT_EQ(canonical("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(canonical("2001:db8:0:0:0:1:0:0"), "2001:db8::1:0:0");
  EXPECT_EQ(canonical("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(canonical("::"), "::");
  EXPECT_EQ(canonical("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
  EXPECT_EQ(parse_san("IP:2001:DB8::1", kStrict)->text(), "IP:2001:db8::1");
  expect_refused("IP:fe80::1%eth0", "is not valid");
  expect_refused("IP:[2001:db8::1]", "is not valid");
  expect_refused("IP:2001:db8::1::2", "is not valid");
  expect_refused("IP:2001:db8:0:0:0:0:0:0:1", "is not valid");
  expect_refused("IP:12345::1", "is not valid");
}

TEST(SanEmail, AddressesHaveOneAtADotAtomLocalPartAndAHostName) {
  expect_ok("email:a@b.example");
  expect_ok("email:first.last+tag@b.example");
  expect_ok("email:x!#$%&'*/=?^_`{|}~-@b.example");
  expect_ok("email:" + label(64) + "@b.example");
  expect_refused("email:a.b.example", "exactly one '@'");
  expect_refused("email:a@b@c.example", "exactly one '@'");
  expect_refused("email:@b.example", "bad local part");
  expect_refused("email:" + label(65) + "@b.example", "bad local part");
  expect_refused("email:.a@b.example", "bad local part");
  expect_refused("email:a.@b.example", "bad local part");
  expect_refused("email:a b@b.example", "not allowed in a local part");
  expect_refused("email:\"a b\"@b.example", "not allowed in a local part");
  expect_refused("email:a(b)@b.example", "not allowed in a local part");
  expect_refused("email:a@", "bad domain");
  expect_refused("email:a@b_c.example", "bad domain");
  expect_refused("email:a@[10.0.0.1]", "bad domain");
  expect_refused("email:a@b.example.", "bad domain");
}

TEST(SanUri, UrisHaveASchemeAndNoSpaceControlOrNonAscii) {
  expect_ok("URI:spiffe://cluster.local/ns/default/sa/web");
  expect_ok("URI:https://a.example:8443/x?y=1#z");
  expect_ok("URI:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
  expect_ok("URI:a+b-c.d:x");
  expect_refused("URI:a.example/x", "not scheme:rest");
  expect_refused("URI::x", "not scheme:rest");
  expect_refused("URI:https:", "not scheme:rest");
  expect_refused("URI:1http://x", "invalid scheme");
  expect_refused("URI:ht_tp://x", "invalid scheme");
  expect_refused("URI:https://a.example/a b", "space, control or non-ASCII");
  expect_refused("URI:https://a.example/\x7f", "space, control or non-ASCII");
  expect_refused("URI:https://a.example/\t", "space, control or non-ASCII");
  expect_refused(
      "URI:https://b\xc3\xbc"
      "cher.example/",
      "space, control or non-ASCII");
  const std::string base = "https://a.example/";  // 18 characters
  expect_ok("URI:" + base + std::string(2048 - 18, 'x'));
  expect_refused("URI:" + base + std::string(2048 - 17, 'x'), "longer than 2048");
}

TEST(SanText, OnlyTheFourPrefixesAreKnown) {
  expect_refused("a.example", "must start with DNS:, IP:, email: or URI:");
  expect_refused("dns:a.example", "must start with");
  expect_refused("RID:1.2.3.4", "must start with");
  expect_refused("otherName:1.2.3;UTF8:x", "must start with");
  expect_refused("", "must start with");
}

TEST(SanType, ProfileNamesRoundTrip) {
  for (SanType t : {SanType::dns, SanType::ip, SanType::email, SanType::uri}) {
    auto back = hwca::ca::parse_san_type(hwca::ca::san_type_name(t));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, t);
  }
  EXPECT_STREQ(hwca::ca::san_type_name(SanType::dns), "dns");
  EXPECT_STREQ(hwca::ca::san_type_name(SanType::ip), "ip");
  EXPECT_STREQ(hwca::ca::san_type_name(SanType::email), "email");
  EXPECT_STREQ(hwca::ca::san_type_name(SanType::uri), "uri");
  for (const char* bad : {"DNS", "rid", "dirname", "", "ip "}) {
    auto t = hwca::ca::parse_san_type(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().kind, ErrorKind::usage);
  }
}

// Names as they come in a request: GENERAL_NAMEs with raw bytes.
struct Gen {
  GENERAL_NAME* g;
  explicit Gen(GENERAL_NAME* name) : g(name) {}
  ~Gen() { GENERAL_NAME_free(g); }
};

TEST(SanFromRequest, Ia5StringsWithANulOrNonAsciiByteAreRefused) {
  using namespace std::string_literals;
  struct Case {
    int type;
    std::string bytes;
    const char* what;
  };
  const Case cases[] = {
      {GEN_DNS, "a.example\0.evil.example"s, "DNS name"},
      {GEN_DNS,
       "b\xc3\xbc"
       "cher.example",
       "DNS name"},
      {GEN_DNS, "a.example\x80", "DNS name"},
      {GEN_EMAIL, "a@b.example\0.evil.example"s, "email address"},
      {GEN_EMAIL, "\xc3\xa9@b.example", "email address"},
      {GEN_URI, "https://a.example/\0/x"s, "URI"},
      {GEN_URI, "https://a.example/\xff", "URI"},
  };
  for (const auto& c : cases) {
    Gen name(general_name(c.type, c.bytes));
    auto san = san_from_general_name(name.g, kWildcard);
    ASSERT_FALSE(san) << c.what << " accepted: " << san->text();
    EXPECT_EQ(san.error().kind, ErrorKind::usage);
    EXPECT_NE(san.error().message.find("holds a NUL or non-ASCII byte"), std::string::npos)
        << san.error().message;
    EXPECT_EQ(san.error().message.find(std::string(c.what) + " '"), 0u) << san.error().message;
    EXPECT_EQ(san.error().message.find('\0'), std::string::npos);
  }
}

TEST(SanFromRequest, Ia5NamesAreCheckedLikeText) {
  Gen dns(general_name(GEN_DNS, "a.example"));
  auto ok = san_from_general_name(dns.g, kStrict);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, (San{SanType::dns, "a.example"}));
  Gen underscore(general_name(GEN_DNS, "a_b.example"));
  EXPECT_FALSE(san_from_general_name(underscore.g, kStrict));
  Gen wildcard(general_name(GEN_DNS, "*.a.example"));
  EXPECT_FALSE(san_from_general_name(wildcard.g, kStrict));
  EXPECT_TRUE(san_from_general_name(wildcard.g, kWildcard));
  Gen email(general_name(GEN_EMAIL, "a@b.example"));
  EXPECT_EQ(san_from_general_name(email.g, kStrict)->text(), "email:a@b.example");
  Gen uri(general_name(GEN_URI, "spiffe://td/x"));
  EXPECT_EQ(san_from_general_name(uri.g, kStrict)->text(), "URI:spiffe://td/x");
  Gen bad_uri(general_name(GEN_URI, "no-scheme"));
  EXPECT_FALSE(san_from_general_name(bad_uri.g, kStrict));
}

TEST(SanFromRequest, IpAddressesAreFourOrSixteenOctets) {
  Gen v4(general_name(GEN_IPADD, std::string("\x0a\x00\x00\x01", 4)));
  EXPECT_EQ(san_from_general_name(v4.g, kStrict)->text(), "IP:10.0.0.1");
  std::string v6_bytes(16, '\0');
  v6_bytes[0] = '\x20';
  v6_bytes[1] = '\x01';
  v6_bytes[2] = '\x0d';
  v6_bytes[3] = '\xb8';
  v6_bytes[15] = '\x01';
  Gen v6(general_name(GEN_IPADD, v6_bytes));
  EXPECT_EQ(san_from_general_name(v6.g, kStrict)->text(), "IP:2001:db8::1");
  // 8 and 32 octets are an address with a mask, as in name constraints; not a SAN.
  for (size_t len : {0u, 3u, 5u, 8u, 15u, 17u, 32u}) {
    Gen odd(general_name(GEN_IPADD, std::string(len, '\x01')));
    auto san = san_from_general_name(odd.g, kStrict);
    ASSERT_FALSE(san) << len << " octets accepted";
    EXPECT_NE(san.error().message.find(std::to_string(len) + " octets (4 or 16 expected)"),
              std::string::npos)
        << san.error().message;
  }
}

TEST(SanFromRequest, OtherGeneralNameTypesAreNotSupported) {
  auto expect_unsupported = [](GENERAL_NAME* g, const std::string& needle) {
    Gen name(g);
    auto san = san_from_general_name(name.g, kWildcard);
    ASSERT_FALSE(san) << needle;
    EXPECT_EQ(san.error().kind, ErrorKind::usage);
    EXPECT_NE(san.error().message.find(needle), std::string::npos) << san.error().message;
  };
  {  // directoryName
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, GEN_DIRNAME, hwca::test::name_of({{"CN", "x"}}).release());
    expect_unsupported(g, "SAN type directoryName is not supported");
  }
  {  // registeredID
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, GEN_RID, OBJ_txt2obj("1.2.3.4", 1));
    expect_unsupported(g, "SAN type registeredID is not supported");
  }
  {  // otherName (a Microsoft UPN)
    GENERAL_NAME* g = GENERAL_NAME_new();
    ASN1_TYPE* value = ASN1_TYPE_new();
    ASN1_UTF8STRING* upn = ASN1_UTF8STRING_new();
    ASN1_STRING_set(upn, "a@b.example", -1);
    ASN1_TYPE_set(value, V_ASN1_UTF8STRING, upn);
    GENERAL_NAME_set0_othername(g, OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), value);
    expect_unsupported(g, "SAN type otherName is not supported");
  }
  {  // ediPartyName: no name of its own in the message, but refused
    GENERAL_NAME* g = GENERAL_NAME_new();
    EDIPARTYNAME* edi = EDIPARTYNAME_new();
    ASN1_STRING_free(edi->partyName);
    edi->partyName = ASN1_STRING_type_new(V_ASN1_UTF8STRING);
    ASN1_STRING_set(edi->partyName, "x", 1);
    GENERAL_NAME_set0_value(g, GEN_EDIPARTY, edi);
    expect_unsupported(g, "is not supported");
  }
}

// The encoded names decode to the same names, in the same order, with the IP addresses as
// their network-order octets.
TEST(SanEncoding, ToGeneralNamesRoundTripsThroughDer) {
  std::vector<San> sans;
  for (const char* text : {"DNS:a.example", "IP:10.0.0.1", "email:a@b.example",
                           "URI:spiffe://td/ns/x", "IP:2001:db8::1", "DNS:*.b.example"}) {
    auto san = parse_san(text, kWildcard);
    ASSERT_TRUE(san) << text;
    sans.push_back(*san);
  }
  auto names = hwca::ca::to_general_names(sans);
  ASSERT_TRUE(names) << names.error().message;
  unsigned char* der = nullptr;
  int len = i2d_GENERAL_NAMES(*names, &der);
  GENERAL_NAMES_free(*names);
  ASSERT_GT(len, 0);
  const unsigned char* p = der;
  GENERAL_NAMES* back = d2i_GENERAL_NAMES(nullptr, &p, len);
  OPENSSL_free(der);
  ASSERT_NE(back, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(back), static_cast<int>(sans.size()));
  const int types[] = {GEN_DNS, GEN_IPADD, GEN_EMAIL, GEN_URI, GEN_IPADD, GEN_DNS};
  for (int i = 0; i < sk_GENERAL_NAME_num(back); ++i) {
    GENERAL_NAME* g = sk_GENERAL_NAME_value(back, i);
    int type = -1;
    GENERAL_NAME_get0_value(g, &type);
    EXPECT_EQ(type, types[i]) << i;
    auto san = san_from_general_name(g, kWildcard);
    ASSERT_TRUE(san) << san.error().message;
    EXPECT_EQ(*san, sans[i]);
  }
  const ASN1_OCTET_STRING* v4 = sk_GENERAL_NAME_value(back, 1)->d.iPAddress;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v4->data), v4->length),
            std::string("\x0a\x00\x00\x01", 4));
  const ASN1_OCTET_STRING* v6 = sk_GENERAL_NAME_value(back, 4)->d.iPAddress;
  ASSERT_EQ(v6->length, 16);
  EXPECT_EQ(v6->data[0], 0x20);
  EXPECT_EQ(v6->data[1], 0x01);
  EXPECT_EQ(v6->data[2], 0x0d);
  EXPECT_EQ(v6->data[3], 0xb8);
  EXPECT_EQ(v6->data[15], 0x01);
  GENERAL_NAMES_free(back);
}

TEST(SanEncoding, AnEmptyListGivesAnEmptySequence) {
  auto names = hwca::ca::to_general_names({});
  ASSERT_TRUE(names);
  EXPECT_EQ(sk_GENERAL_NAME_num(*names), 0);
  GENERAL_NAMES_free(*names);
}

TEST(SanEncoding, AnUnparsableIpIsAnErrorNotACrash) {
  // A San not made by the parser: to_general_names refuses it rather than encode nonsense.
  auto names = hwca::ca::to_general_names({San{SanType::ip, "not-an-address"}});
  ASSERT_FALSE(names);
  EXPECT_NE(names.error().message.find("IP:not-an-address"), std::string::npos);
}

// A node's --ip addresses: canonical, in the order given, repeats (as text or as address)
// dropped; the first that is not an address is named with the option.
TEST(SanIp, NodeAddressesAreCanonicalOrderedAndUnique) {
  auto ips = hwca::ca::canonical_ips({"10.0.0.5", "fd00:0::5", "10.0.0.5", "FD00::5", "::1"});
  ASSERT_TRUE(ips) << ips.error().message;
  EXPECT_EQ(*ips, (std::vector<std::string>{"10.0.0.5", "fd00::5", "::1"}));
  EXPECT_TRUE(hwca::ca::canonical_ips({})->empty());
  auto bad = hwca::ca::canonical_ips({"10.0.0.5", "10.0.0.0/8", "x"}, "ip");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  EXPECT_EQ(bad.error().message.rfind("ip '10.0.0.0/8' is not an IPv4 or IPv6 address", 0), 0u)
      << bad.error().message;
}

}  // namespace
