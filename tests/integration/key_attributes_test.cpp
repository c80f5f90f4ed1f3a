// Keys hwca generates, checked from outside hwca with a bare PKCS#11 client: the private
// half is sensitive, never extractable, made in the token, and its secret values cannot be
// read.
#include <gtest/gtest.h>

#include "integration_env.hpp"
#include "support/raw_pkcs11.hpp"

namespace hwca::test {
namespace {

class KeyAttributes : public ::testing::TestWithParam<tokens::KeyType> {};

TEST_P(KeyAttributes, PrivateKeyIsSensitiveNeverExtractableAndLocal) {
  tokens::KeyType type = GetParam();
  std::string label = std::string("attr-") + tokens::key_type_name(type);
  make_key(label, type);

  RawPkcs11 p11(SoftHsmToken::module());
  CK_SESSION_HANDLE s = p11.open_session(p11.slot_by_label(g_token->label()));
  p11.login(s, g_token->pin());
  CK_OBJECT_HANDLE key = p11.find(s, CKO_PRIVATE_KEY, label);

  EXPECT_TRUE(p11.get_bool(s, key, CKA_TOKEN));
  EXPECT_TRUE(p11.get_bool(s, key, CKA_PRIVATE));
  EXPECT_TRUE(p11.get_bool(s, key, CKA_SENSITIVE));
  EXPECT_FALSE(p11.get_bool(s, key, CKA_EXTRACTABLE));
  EXPECT_TRUE(p11.get_bool(s, key, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(p11.get_bool(s, key, CKA_NEVER_EXTRACTABLE));
  EXPECT_TRUE(p11.get_bool(s, key, CKA_LOCAL));
  EXPECT_TRUE(p11.get_bool(s, key, CKA_SIGN));
  EXPECT_FALSE(p11.get_bool(s, key, CKA_DECRYPT));

  std::vector<unsigned char> value;
  if (tokens::is_rsa(type)) {
    for (CK_ATTRIBUTE_TYPE secret : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1,
                                     CKA_EXPONENT_2, CKA_COEFFICIENT}) {
      EXPECT_EQ(p11.get_attribute(s, key, secret, &value), CKR_ATTRIBUTE_SENSITIVE)
          << "attribute 0x" << std::hex << secret;
    }
  } else {
    EXPECT_EQ(p11.get_attribute(s, key, CKA_VALUE, &value), CKR_ATTRIBUTE_SENSITIVE);
  }
  // The public half carries the same label and id.
  CK_OBJECT_HANDLE pub = p11.find(s, CKO_PUBLIC_KEY, label);
  std::vector<unsigned char> id_priv, id_pub;
  ASSERT_EQ(p11.get_attribute(s, key, CKA_ID, &id_priv), CKR_OK);
  ASSERT_EQ(p11.get_attribute(s, pub, CKA_ID, &id_pub), CKR_OK);
  EXPECT_FALSE(id_priv.empty());
  EXPECT_EQ(id_priv, id_pub);
  p11.close_session(s);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KeyAttributes, ::testing::ValuesIn(kAllTypes), type_test_name);

}  // namespace
}  // namespace hwca::test
