#include "tokens/public_key.hpp"

#include <openssl/core_names.h>

namespace hwca::tokens {
namespace {

ossl::Ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  ossl::Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, ossl::kDefaultProps));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return ossl::Ptr<EVP_PKEY>(pkey);
}

}  // namespace

ossl::Ptr<EVP_PKEY> rsa_public_key(std::span<const uint8_t> n, std::span<const uint8_t> e) {
  ossl::Ptr<BIGNUM> bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  ossl::Ptr<BIGNUM> bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  ossl::Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  return from_params("RSA", bld.get());
}

ossl::Ptr<EVP_PKEY> ec_public_key(const char* group, std::span<const uint8_t> point) {
  ossl::Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return nullptr;
  }
  return from_params("EC", bld.get());
}

}  // namespace hwca::tokens
