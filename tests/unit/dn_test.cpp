// Unit tests for src/ca/dn.hpp: subjects from the command line, both spellings.
#include "ca/dn.hpp"

#include <gtest/gtest.h>

namespace {

using hwca::ca::dn_text;
using hwca::ca::parse_dn;

TEST(Dn, SlashAndCommaFormsGiveTheSameName) {
  // OpenSSL's -subj form is most significant first, RFC 4514's most significant last.
  auto a = parse_dn("/C=DE/O=example/CN=etcd-ca");
  auto b = parse_dn("CN=etcd-ca, O=example, C=DE");
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(X509_NAME_cmp(a->get(), b->get()), 0);
  EXPECT_EQ(dn_text(a->get()), "CN=etcd-ca,O=example,C=DE");
  EXPECT_EQ(X509_NAME_entry_count(a->get()), 3);
  // The DER starts with the most significant RDN, C.
  EXPECT_EQ(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(a->get(), 0))),
            NID_countryName);
}

TEST(Dn, PrintedTextReadsBackToTheSameDer) {
  for (const char* text :
       {"/O=Example/CN=x", "O=Example,CN=x", "/C=DE/O=Caf\xc3\xa9 + Co, Ltd./OU=a\\/b/CN=#1 = x ",
        "CN=\\ lead and trail\\ ,O=q\"uote<>;"}) {
    auto n = parse_dn(text);
    ASSERT_TRUE(n) << text << ": " << n.error().message;
    std::string printed = dn_text(n->get());
    auto back = parse_dn(printed);
    ASSERT_TRUE(back) << printed << ": " << back.error().message;
    EXPECT_EQ(X509_NAME_cmp(n->get(), back->get()), 0) << text << " printed as " << printed;
    EXPECT_EQ(dn_text(back->get()), printed);
  }
}

TEST(Dn, EscapesAndUtf8) {
  auto n = parse_dn("CN=Doe\\, Jane,O=Caf\xc3\xa9");
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(X509_NAME_entry_count(n->get()), 2);
  int i = X509_NAME_get_index_by_NID(n->get(), NID_commonName, -1);
  ASSERT_GE(i, 0);
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n->get(), i));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                        static_cast<size_t>(ASN1_STRING_length(cn))),
            "Doe, Jane");
}

TEST(Dn, BadSubjectsAreRefused) {
  for (const char* bad : {"", "/CN", "CN=", "/=x", "/XYZ=1", "CN=a,,O=b", "CN=a+O=b", "CN=a\\"}) {
    auto n = parse_dn(bad);
    ASSERT_FALSE(n) << bad;
    EXPECT_EQ(n.error().kind, hwca::ErrorKind::usage) << bad;
  }
}

}  // namespace
