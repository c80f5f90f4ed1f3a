#include "providers/algorithm_id.hpp"

#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/ossl.hpp"

namespace hwca::provider {
namespace {

int md_nid(const std::string& digest) {
  ossl::Ptr<EVP_MD> md(EVP_MD_fetch(nullptr, digest.c_str(), ossl::kDefaultProps));
  return md ? EVP_MD_get_type(md.get()) : NID_undef;
}

Result<std::vector<unsigned char>> encode(X509_ALGOR* alg) {
  int len = i2d_X509_ALGOR(alg, nullptr);
  if (len <= 0) return fail(ErrorKind::internal, "cannot encode an AlgorithmIdentifier");
  std::vector<unsigned char> out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_X509_ALGOR(alg, &p);
  return out;
}

Result<std::vector<unsigned char>> simple(const std::string& digest, int pkey_nid, int ptype) {
  int sig_nid = NID_undef;
  if (OBJ_find_sigid_by_algs(&sig_nid, md_nid(digest), pkey_nid) != 1) {
    return fail(ErrorKind::usage, "no signature algorithm for digest '" + digest + "'");
  }
  ossl::Ptr<X509_ALGOR> alg(X509_ALGOR_new());
  if (!alg || X509_ALGOR_set0(alg.get(), OBJ_nid2obj(sig_nid), ptype, nullptr) != 1) {
    return fail(ErrorKind::internal, "cannot build an AlgorithmIdentifier");
  }
  return encode(alg.get());
}

// A hash AlgorithmIdentifier inside RSASSA-PSS parameters, with NULL parameters: RFC 4055
// allows NULL or absent; OpenSSL writes NULL, and the CA/Browser Forum's Baseline
// Requirements fix the exact PSS encodings with NULL.
X509_ALGOR* hash_algor(int nid) {
  X509_ALGOR* a = X509_ALGOR_new();
  if (a != nullptr && X509_ALGOR_set0(a, OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) != 1) {
    X509_ALGOR_free(a);
    return nullptr;
  }
  return a;
}

}  // namespace

Result<std::vector<unsigned char>> ecdsa_algorithm_id(const std::string& digest) {
  return simple(digest, NID_X9_62_id_ecPublicKey, V_ASN1_UNDEF);
}

Result<std::vector<unsigned char>> rsa_pkcs1_algorithm_id(const std::string& digest) {
  return simple(digest, NID_rsaEncryption, V_ASN1_NULL);
}

Result<std::vector<unsigned char>> rsa_pss_algorithm_id(const std::string& digest,
                                                        const std::string& mgf1_digest,
                                                        int salt_len) {
  int hash = md_nid(digest);
  int mgf_hash = md_nid(mgf1_digest);
  if (hash == NID_undef || mgf_hash == NID_undef) {
    return fail(ErrorKind::usage, "unknown digest for RSA-PSS");
  }
  RSA_PSS_PARAMS* pss = RSA_PSS_PARAMS_new();
  if (pss == nullptr) return fail(ErrorKind::internal, "out of memory");
  bool ok = true;
  pss->hashAlgorithm = hash_algor(hash);
  ok = ok && pss->hashAlgorithm != nullptr;
  // maskGenAlgorithm: id-mgf1 with the MGF1 hash's AlgorithmIdentifier as parameter.
  X509_ALGOR* mgf_param = hash_algor(mgf_hash);
  ASN1_STRING* packed = nullptr;
  ok = ok && mgf_param != nullptr &&
       ASN1_item_pack(mgf_param, ASN1_ITEM_rptr(X509_ALGOR), &packed) != nullptr;
  X509_ALGOR_free(mgf_param);
  if (ok) {
    pss->maskGenAlgorithm = X509_ALGOR_new();
    ok =
        pss->maskGenAlgorithm != nullptr &&
        X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, packed) == 1;
    if (ok) packed = nullptr;
  }
  ASN1_STRING_free(packed);
  if (ok && salt_len != 20) {  // 20 is the DEFAULT and must then be omitted
    pss->saltLength = ASN1_INTEGER_new();
    ok = pss->saltLength != nullptr && ASN1_INTEGER_set(pss->saltLength, salt_len) == 1;
  }
  ASN1_STRING* params = nullptr;
  ok = ok && ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), &params) != nullptr;
  RSA_PSS_PARAMS_free(pss);
  ossl::Ptr<X509_ALGOR> alg(X509_ALGOR_new());
  if (!ok || !alg ||
      X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params) != 1) {
    ASN1_STRING_free(params);
    return fail(ErrorKind::internal, "cannot build the RSASSA-PSS AlgorithmIdentifier");
  }
  return encode(alg.get());
}

}  // namespace hwca::provider
