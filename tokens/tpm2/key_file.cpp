#include "tokens/tpm2/key_file.hpp"

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include <cctype>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/file_util.hpp"
#include "common/ossl.hpp"
#include "common/text.hpp"
#include "tokens/tpm2/rc.hpp"

namespace hwca::tokens::tpm2 {
namespace {

constexpr const char* kPemLabel = "TSS2 PRIVATE KEY";
constexpr const char* kLoadableKey = "2.23.133.10.1.3";
constexpr const char* kImportableKey = "2.23.133.10.1.4";
constexpr const char* kSealedData = "2.23.133.10.1.5";

// TPMKey (key_file.hpp). An absent BOOLEAN is -1. policy, secret and authPolicy are decoded
// only to be refused, so their contents are not modelled.
// clang-format off
struct TpmKey {
  ASN1_OBJECT* type;
  ASN1_BOOLEAN empty_auth;
  STACK_OF(ASN1_TYPE)* policy;
  ASN1_TYPE* secret;
  STACK_OF(ASN1_TYPE)* auth_policy;
  ASN1_UTF8STRING* description;
  ASN1_BOOLEAN rsa_parent;
  ASN1_INTEGER* parent;
  ASN1_OCTET_STRING* pubkey;
  ASN1_OCTET_STRING* privkey;
};

ASN1_SEQUENCE(TpmKey) = {
  ASN1_SIMPLE(TpmKey, type, ASN1_OBJECT),
  ASN1_EXP_OPT(TpmKey, empty_auth, ASN1_BOOLEAN, 0),
  ASN1_EXP_SEQUENCE_OF_OPT(TpmKey, policy, ASN1_ANY, 1),
  ASN1_EXP_OPT(TpmKey, secret, ASN1_ANY, 2),
  ASN1_EXP_SEQUENCE_OF_OPT(TpmKey, auth_policy, ASN1_ANY, 3),
  ASN1_EXP_OPT(TpmKey, description, ASN1_UTF8STRING, 4),
  ASN1_EXP_OPT(TpmKey, rsa_parent, ASN1_BOOLEAN, 5),
  ASN1_SIMPLE(TpmKey, parent, ASN1_INTEGER),
  ASN1_SIMPLE(TpmKey, pubkey, ASN1_OCTET_STRING),
  ASN1_SIMPLE(TpmKey, privkey, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(TpmKey)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(TpmKey)
IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(TpmKey)

struct TpmKeyFree {
  void operator()(TpmKey* k) const { TpmKey_free(k); }
};
using TpmKeyPtr = std::unique_ptr<TpmKey, TpmKeyFree>;
// clang-format on

struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

bool valid_parent(uint64_t handle) {
  return (handle >= 0x40000000 && handle <= 0x40ffffff) ||
         (handle >= 0x81000000 && handle <= 0x81ffffff);
}

std::string bytes_text(size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

std::string hex_handle(uint64_t handle) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(handle));
  return buf;
}

// The DER inside the first PEM block of `data`, which must be a TSS2 PRIVATE KEY.
Result<std::string> pem_body(std::string_view data, const std::string& shown) {
  if (data.size() > INT_MAX) return fail(ErrorKind::usage, shown + ": too large for a key file");
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return fail(ErrorKind::internal, "cannot read " + shown + ": out of memory");
  char* label = nullptr;
  char* header = nullptr;
  unsigned char* body = nullptr;
  long len = 0;
  int ok = PEM_read_bio(bio.get(), &label, &header, &body, &len);
  std::unique_ptr<char, OpensslFree> label_ptr(label);
  std::unique_ptr<char, OpensslFree> header_ptr(header);
  std::unique_ptr<unsigned char, OpensslFree> body_ptr(body);
  if (ok != 1) {
    std::string why = ossl::take_errors();
    if (data.find("-----BEGIN ") == std::string_view::npos) {
      return fail(ErrorKind::usage, shown + ": not a TSS2 PRIVATE KEY file (neither PEM nor DER)");
    }
    return fail(ErrorKind::usage, shown + ": not a TSS2 PRIVATE KEY file (bad PEM: " + why + ")");
  }
  if (std::strcmp(label, kPemLabel) != 0) {
    return fail(ErrorKind::usage,
                shown + ": not a TSS2 PRIVATE KEY file (PEM label '" + printable(label) + "')");
  }
  if (header[0] != '\0') {
    return fail(ErrorKind::usage, shown + ": the PEM block has headers (encrypted?)");
  }
  char rest[256];
  int n;
  while ((n = BIO_read(bio.get(), rest, sizeof rest)) > 0) {
    for (int i = 0; i < n; ++i) {
      if (!std::isspace(static_cast<unsigned char>(rest[i]))) {
        return fail(ErrorKind::usage, shown + ": text after the END TSS2 PRIVATE KEY line");
      }
    }
  }
  return std::string(reinterpret_cast<const char*>(body), static_cast<size_t>(len));
}

Result<KeyFile> decode(std::string_view der, const std::string& shown) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  if (der.size() > LONG_MAX) return fail(ErrorKind::usage, shown + ": too large for a key file");
  TpmKeyPtr key(d2i_TpmKey(nullptr, &p, static_cast<long>(der.size())));
  if (!key) {
    return fail(ErrorKind::usage,
                shown + ": not a TSS2 PRIVATE KEY file (" + ossl::take_errors() + ")");
  }
  if (p != end) {
    return fail(ErrorKind::usage, shown + ": " + bytes_text(static_cast<size_t>(end - p)) +
                                      " after the TSS2 PRIVATE KEY structure");
  }

  char oid[80];
  int oid_len = OBJ_obj2txt(oid, sizeof oid, key->type, 1);
  if (oid_len <= 0 || static_cast<size_t>(oid_len) >= sizeof oid) {
    return fail(ErrorKind::usage, shown + ": the key type is not a valid object identifier");
  }
  if (std::strcmp(oid, kImportableKey) == 0) {
    return fail(ErrorKind::usage, shown + ": an importable key (" + kImportableKey +
                                      "), not a loadable key (" + kLoadableKey + ")");
  }
  if (std::strcmp(oid, kSealedData) == 0) {
    return fail(ErrorKind::usage, shown + ": sealed data (" + kSealedData +
                                      "), not a loadable key (" + kLoadableKey + ")");
  }
  if (std::strcmp(oid, kLoadableKey) != 0) {
    return fail(ErrorKind::usage,
                shown + ": type " + oid + " is not a loadable key (" + kLoadableKey + ")");
  }
  if (key->policy != nullptr) {
    return fail(ErrorKind::usage, shown + ": the key needs a TPM policy, which hwca does not run");
  }
  if (key->auth_policy != nullptr) {
    return fail(ErrorKind::usage,
                shown + ": the key has signed authorisation policies, which hwca does not run");
  }
  if (key->secret != nullptr) {
    return fail(ErrorKind::usage,
                shown + ": the key carries an import secret, which a loadable key does not");
  }
  if (key->rsa_parent > 0) {
    return fail(ErrorKind::usage,
                shown + ": the key's parent is an RSA key (rsaParent), not the ECC P-256 SRK");
  }

  uint64_t parent = 0;
  if (ASN1_INTEGER_get_uint64(&parent, key->parent) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::usage, shown + ": the parent is not a TPM handle");
  }
  if (!valid_parent(parent)) {
    return fail(ErrorKind::usage, shown + ": parent " + hex_handle(parent) +
                                      " is neither a hierarchy (0x40xxxxxx) nor a persistent"
                                      " key (0x81xxxxxx)");
  }

  KeyFile out;
  out.parent = static_cast<TPM2_HANDLE>(parent);
  out.empty_auth = key->empty_auth > 0;  // absent (-1): FALSE
  size_t offset = 0;
  const ASN1_OCTET_STRING* pub = key->pubkey;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub->data, static_cast<size_t>(pub->length), &offset,
                                              &out.pub);
  if (rc != TSS2_RC_SUCCESS || out.pub.size == 0) {
    return fail(ErrorKind::usage, shown + ": pubkey is not a TPM2B_PUBLIC");
  }
  // tpm2-tss does not compare the size field with what the public area took.
  if (offset != sizeof(out.pub.size) + out.pub.size) {
    return fail(ErrorKind::usage,
                shown + ": pubkey's TPM2B_PUBLIC size does not match its contents");
  }
  if (offset != static_cast<size_t>(pub->length)) {
    return fail(ErrorKind::usage, shown + ": pubkey has " +
                                      bytes_text(static_cast<size_t>(pub->length) - offset) +
                                      " after its TPM2B_PUBLIC");
  }
  offset = 0;
  const ASN1_OCTET_STRING* priv = key->privkey;
  rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(priv->data, static_cast<size_t>(priv->length), &offset,
                                       &out.priv);
  if (rc != TSS2_RC_SUCCESS || out.priv.size == 0) {
    return fail(ErrorKind::usage, shown + ": privkey is not a TPM2B_PRIVATE");
  }
  if (offset != static_cast<size_t>(priv->length)) {
    return fail(ErrorKind::usage, shown + ": privkey has " +
                                      bytes_text(static_cast<size_t>(priv->length) - offset) +
                                      " after its TPM2B_PRIVATE");
  }
  if (key->description != nullptr) {
    out.description.assign(reinterpret_cast<const char*>(key->description->data),
                           static_cast<size_t>(key->description->length));
  }
  return out;
}

}  // namespace

Result<KeyFile> parse_key_file(std::string_view data, const std::string& name) {
  const std::string shown = printable(name);
  // DER is a SEQUENCE; anything else is taken for PEM.
  if (!data.empty() && static_cast<unsigned char>(data[0]) == 0x30) return decode(data, shown);
  auto der = pem_body(data, shown);
  if (!der) return tl::unexpected(der.error());
  return decode(*der, shown);
}

Result<std::string> key_file_pem(const KeyFile& key) {
  if (!valid_parent(key.parent)) {
    return fail(ErrorKind::internal, "a key file cannot name parent " + hex_handle(key.parent));
  }
  if (key.pub.publicArea.type == 0 || key.priv.size == 0) {
    return fail(ErrorKind::internal, "a key file needs the key's public area and private blob");
  }
  uint8_t pub[sizeof(TPM2B_PUBLIC)];
  size_t pub_len = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&key.pub, pub, sizeof pub, &pub_len);
  if (rc != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "cannot marshal the key's TPM2B_PUBLIC: " + rc_text(rc));
  }
  uint8_t priv[sizeof(TPM2B_PRIVATE)];
  size_t priv_len = 0;
  rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&key.priv, priv, sizeof priv, &priv_len);
  if (rc != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "cannot marshal the key's TPM2B_PRIVATE: " + rc_text(rc));
  }

  TpmKeyPtr k(TpmKey_new());
  if (!k) return fail(ErrorKind::internal, "cannot encode a key file: out of memory");
  ASN1_OBJECT_free(k->type);
  k->type = OBJ_txt2obj(kLoadableKey, 1);
  k->empty_auth = key.empty_auth ? 0xff : 0;
  bool ok = k->type != nullptr && ASN1_INTEGER_set_uint64(k->parent, key.parent) == 1 &&
            ASN1_OCTET_STRING_set(k->pubkey, pub, static_cast<int>(pub_len)) == 1 &&
            ASN1_OCTET_STRING_set(k->privkey, priv, static_cast<int>(priv_len)) == 1;
  if (ok && !key.description.empty()) {
    k->description = ASN1_UTF8STRING_new();
    ok =
        k->description != nullptr && ASN1_STRING_set(k->description, key.description.data(),
                                                     static_cast<int>(key.description.size())) == 1;
  }
  unsigned char* der = nullptr;
  int der_len = ok ? i2d_TpmKey(k.get(), &der) : -1;
  std::unique_ptr<unsigned char, OpensslFree> der_ptr(der);
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (der_len <= 0 || !bio || PEM_write_bio(bio.get(), kPemLabel, "", der, der_len) <= 0) {
    return fail(ErrorKind::internal, "cannot encode a key file: " + ossl::take_errors());
  }
  char* text = nullptr;
  long text_len = BIO_get_mem_data(bio.get(), &text);
  return std::string(text, static_cast<size_t>(text_len));
}

Result<KeyFile> read_key_file(const std::string& path) {
  auto data = read_file(path, 1 << 20);
  if (!data) return tl::unexpected(data.error());
  return parse_key_file(*data, path);
}

Status write_key_file(const std::string& path, const KeyFile& key) {
  auto pem = key_file_pem(key);
  if (!pem) return tl::unexpected(pem.error());
  auto ok = write_new_file_atomic(path, *pem, 0600);
  if (!ok && ok.error().kind == ErrorKind::conflict) {
    return fail(ErrorKind::conflict,
                printable(path) + " already exists (a key file is never replaced)");
  }
  return ok;
}

}  // namespace hwca::tokens::tpm2
