// One ECDSA P-256 signature of a fixed digest through a token Signer: the probe the token
// fault and recovery tests use to see whether the device signs right now.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.hpp"
#include "tokens/keystore.hpp"

namespace hwca::test {

inline Result<std::vector<uint8_t>> sign_once(tokens::Signer& signer) {
  std::vector<uint8_t> hash(32, 0x5a);
  tokens::SignRequest req;
  req.scheme = tokens::SigScheme::ecdsa;
  req.digest = "SHA256";
  req.hash = hash;
  return signer.sign(req);
}

}  // namespace hwca::test
