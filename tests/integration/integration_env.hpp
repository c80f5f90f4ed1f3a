#pragma once

#include <gtest/gtest.h>

#include <string>

#include "ca/crypto_context.hpp"
#include "support/softhsm_token.hpp"
#include "tokens/keystore.hpp"

namespace hwca::test {

extern SoftHsmToken* g_token;

// Options that give the token's PIN through its 0600 PIN file.
tokens::OpenOptions open_options();

// Options that load keys through the provider with the token's PIN file.
tokens::OpenOptions key_options();

// Generate a key in the shared token with hwca's key store; returns its URI.
std::string make_key(const std::string& label, tokens::KeyType type);

inline const tokens::KeyType kAllTypes[] = {tokens::KeyType::ec_p256, tokens::KeyType::ec_p384,
                                            tokens::KeyType::rsa_2048, tokens::KeyType::rsa_3072,
                                            tokens::KeyType::rsa_4096};

// "ec_p256" for a parameterised test's name.
inline std::string type_test_name(const ::testing::TestParamInfo<tokens::KeyType>& p) {
  std::string n = tokens::key_type_name(p.param);
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  return n;
}

}  // namespace hwca::test
