// PROVISIONAL (branch tpm-registry replaces this file): EK certificates as TPMs store them.
#pragma once

#include <openssl/x509.h>

#include <span>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::attest {

Result<ossl::Ptr<X509>> parse_ek_certificate(std::span<const uint8_t> bytes);
Status verify_ek_chain(X509* ek, const std::vector<X509*>& anchors,
                       const std::vector<X509*>& intermediates);

}  // namespace hwca::attest
