// Unit tests for the SRK template (tokens/tpm2/srk.hpp): the exact public area of the TCG
// ECC P-256 SRK, and that an object differing in any field (a key made under it would not
// load elsewhere) is not taken for it. Creating it in a TPM: tpm_srk_test.cpp.
#include "tokens/tpm2/srk.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using hwca::tokens::tpm2::is_owner_primary;
using hwca::tokens::tpm2::matches_srk_template;
using hwca::tokens::tpm2::srk_template;

TEST(SrkTemplate, IsTheTcgEccP256Srk) {
  TPMT_PUBLIC p = srk_template().publicArea;
  EXPECT_EQ(p.type, TPM2_ALG_ECC);
  EXPECT_EQ(p.nameAlg, TPM2_ALG_SHA256);
  // The attribute word tpm2-tools prints for the same template (raw: 0x30472).
  EXPECT_EQ(p.objectAttributes, 0x00030472u);
  EXPECT_EQ(p.authPolicy.size, 0);
  EXPECT_EQ(p.parameters.eccDetail.symmetric.algorithm, TPM2_ALG_AES);
  EXPECT_EQ(p.parameters.eccDetail.symmetric.keyBits.aes, 128);
  EXPECT_EQ(p.parameters.eccDetail.symmetric.mode.aes, TPM2_ALG_CFB);
  EXPECT_EQ(p.parameters.eccDetail.scheme.scheme, TPM2_ALG_NULL);
  EXPECT_EQ(p.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
  EXPECT_EQ(p.parameters.eccDetail.kdf.scheme, TPM2_ALG_NULL);
  EXPECT_EQ(p.unique.ecc.x.size, 0);
  EXPECT_EQ(p.unique.ecc.y.size, 0);
  EXPECT_TRUE(matches_srk_template(p));
}

TEST(SrkTemplate, TheDerivedPublicPointDoesNotMatter) {
  TPMT_PUBLIC p = srk_template().publicArea;
  p.unique.ecc.x.size = 32;
  p.unique.ecc.x.buffer[0] = 0x42;
  p.unique.ecc.y.size = 32;
  EXPECT_TRUE(matches_srk_template(p));
}

TEST(SrkTemplate, AnyOtherFieldMakesItAnotherKey) {
  std::vector<std::pair<std::string, std::function<void(TPMT_PUBLIC&)>>> changes = {
      {"rsa", [](TPMT_PUBLIC& p) { p.type = TPM2_ALG_RSA; }},
      {"sha384 name", [](TPMT_PUBLIC& p) { p.nameAlg = TPM2_ALG_SHA384; }},
      {"without noDA", [](TPMT_PUBLIC& p) { p.objectAttributes &= ~TPMA_OBJECT_NODA; }},
      {"with sign", [](TPMT_PUBLIC& p) { p.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT; }},
      {"a policy", [](TPMT_PUBLIC& p) { p.authPolicy.size = 32; }},
      {"aes-256", [](TPMT_PUBLIC& p) { p.parameters.eccDetail.symmetric.keyBits.aes = 256; }},
      {"cbc", [](TPMT_PUBLIC& p) { p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CBC; }},
      {"ecdh scheme", [](TPMT_PUBLIC& p) { p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDH; }},
      {"p-384", [](TPMT_PUBLIC& p) { p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384; }},
      {"a kdf",
       [](TPMT_PUBLIC& p) { p.parameters.eccDetail.kdf.scheme = TPM2_ALG_KDF1_SP800_56A; }},
  };
  for (const auto& [what, change] : changes) {
    TPMT_PUBLIC p = srk_template().publicArea;
    change(p);
    EXPECT_FALSE(matches_srk_template(p)) << what;
  }
}

TPM2B_NAME name_of(const std::string& hex) {
  TPM2B_NAME n{};
  if (hex.size() % 2 != 0 || hex.size() / 2 > sizeof n.name) throw std::invalid_argument(hex);
  n.size = static_cast<UINT16>(hex.size() / 2);
  for (size_t i = 0; i < n.size; ++i)
    n.name[i] = static_cast<BYTE>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return n;
}

// Names and qualified names as tpm2_readpublic 5.4 printed them on swtpm 0.7.1: the SRK
// (a primary of the owner hierarchy) and a child key made from the same template under it.
const char* const kSrkName = "000b238194255005305b8eb718115e4a846e6b7fde490c4c1dfa94eba3b4f78ed1af";
const char* const kSrkQualified =
    "000be3bb4482475efcf3ae0e8e82b8d3e15689da932370b67f9a2c0170960f8a393b";
const char* const kChildName =
    "000bc58be77e1463c5265655b7d068293ed41cfd8ec1f74be0b41fbab936788c2b5d";
const char* const kChildQualified =
    "000b4a02a2ce61566fb14b77fb142bc2a9df185410ad8516bc4a5608f897a4975387";

TEST(SrkTemplate, AnOwnerPrimaryIsToldFromAChildByItsQualifiedName) {
  EXPECT_TRUE(is_owner_primary(name_of(kSrkName), name_of(kSrkQualified)));
  EXPECT_FALSE(is_owner_primary(name_of(kChildName), name_of(kChildQualified)));
  // Someone else's qualified name, a truncated one, another name algorithm.
  EXPECT_FALSE(is_owner_primary(name_of(kSrkName), name_of(kChildQualified)));
  EXPECT_FALSE(is_owner_primary(name_of(kSrkName), name_of(std::string(kSrkQualified, 66))));
  std::string sha1_alg = std::string("0004") + (kSrkName + 4);
  EXPECT_FALSE(is_owner_primary(name_of(sha1_alg), name_of(kSrkQualified)));
}

}  // namespace
