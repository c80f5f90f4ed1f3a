// DER AlgorithmIdentifiers for the signatures the provider makes (X509_sign reads them
// from the signature context), built with OpenSSL's ASN.1 types.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::provider {

Result<std::vector<unsigned char>> ecdsa_algorithm_id(const std::string& digest);
Result<std::vector<unsigned char>> rsa_pkcs1_algorithm_id(const std::string& digest);
Result<std::vector<unsigned char>> rsa_pss_algorithm_id(const std::string& digest,
                                                        const std::string& mgf1_digest,
                                                        int salt_len);

}  // namespace hwca::provider
