#include "k8s/leaf_key.hpp"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/crypto_context.hpp"
#include "ca/san.hpp"

namespace hwca::k8s {
namespace {

Error ossl_error(const std::string& what) {
  return Error{ErrorKind::internal, what + ": " + ossl::take_errors()};
}

int no_passphrase(char*, int, int, void*) { return -1; }

// The decoder chain PEM_read_bio_PrivateKey builds (PEM, any structure and key type, a key
// pair, OpenSSL's default library context), built once a thread and used for every key that
// thread reads: OpenSSL 3.0 builds it anew for each call (3.2 caches it), 4.8 M instructions
// against the 0.3 M of decoding an ec-p256 key (a re-run of `hwca k8s certs` reads one a
// credential; docs/performance.md). The chain puts the key it decodes into `slot`.
struct KeyDecoder {
  EVP_PKEY* slot = nullptr;
  OSSL_DECODER_CTX* ctx = nullptr;
  KeyDecoder() {
    ctx = OSSL_DECODER_CTX_new_for_pkey(&slot, "PEM", nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr,
                                        nullptr);
    if (ctx && OSSL_DECODER_CTX_set_pem_password_cb(ctx, no_passphrase, nullptr) != 1) {
      OSSL_DECODER_CTX_free(ctx);
      ctx = nullptr;
    }
    ERR_clear_error();
  }
  ~KeyDecoder() { OSSL_DECODER_CTX_free(ctx); }
  KeyDecoder(const KeyDecoder&) = delete;
  KeyDecoder& operator=(const KeyDecoder&) = delete;

  // The key, or null when the chain decodes none (the caller then asks PEM_read_bio_PrivateKey,
  // which also tries OpenSSL's legacy decoders: what it accepts stays accepted).
  ossl::Ptr<EVP_PKEY> decode(std::string_view pem) {
    if (!ctx || pem.empty()) return nullptr;
    slot = nullptr;
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    size_t len = pem.size();
    int ok = OSSL_DECODER_from_data(ctx, &data, &len);
    ossl::Ptr<EVP_PKEY> key(slot);
    slot = nullptr;
    if (ok != 1) key.reset();
    ERR_clear_error();
    return key;
  }
};

}  // namespace

Result<ossl::Ptr<EVP_PKEY>> generate_leaf_key(OSSL_LIB_CTX* libctx, tokens::KeyType type) {
  EVP_PKEY* key = nullptr;
  if (tokens::is_rsa(type)) {
    key = EVP_PKEY_Q_keygen(libctx, ossl::kDefaultProps, "RSA",
                            static_cast<size_t>(tokens::key_bits(type)));
  } else {
    key = EVP_PKEY_Q_keygen(libctx, ossl::kDefaultProps, "EC",
                            type == tokens::KeyType::ec_p384 ? "P-384" : "P-256");
  }
  if (!key) return tl::unexpected(ossl_error("cannot generate a key"));
  return ossl::Ptr<EVP_PKEY>(key);
}

Result<std::string> make_csr_der(OSSL_LIB_CTX* libctx, EVP_PKEY* key,
                                 const std::string& common_name,
                                 const std::vector<std::string>& groups,
                                 const std::vector<std::string>& sans) {
  ossl::Ptr<X509_REQ> req(X509_REQ_new_ex(libctx, ossl::kDefaultProps));
  if (!req) return tl::unexpected(ossl_error("cannot make a request"));
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  for (const auto& g : groups) {
    if (!add("O", g)) return tl::unexpected(ossl_error("cannot set O=" + g));
  }
  if (!add("CN", common_name)) return tl::unexpected(ossl_error("cannot set CN=" + common_name));
  if (!sans.empty()) {
    std::vector<ca::San> checked;
    for (const auto& text : sans) {
      auto san = ca::parse_san(text, {});
      if (!san) return tl::unexpected(san.error());
      checked.push_back(*san);
    }
    auto names = ca::to_general_names(checked);
    if (!names) return tl::unexpected(names.error());
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, *names);
    GENERAL_NAMES_free(*names);
    bool ok = exts && ext && sk_X509_EXTENSION_push(exts, ext) > 0;
    if (!ok) X509_EXTENSION_free(ext);
    ok = ok && X509_REQ_add_extensions(req.get(), exts) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (!ok) return tl::unexpected(ossl_error("cannot add the subjectAltName"));
  }
  // Signed through whichever provider holds the key (a token's, through hwca's), not the
  // request's property query.
  ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
  if (X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1 ||
      !mctx ||
      EVP_DigestSignInit_ex(mctx.get(), nullptr, "SHA256", libctx, nullptr, key, nullptr) != 1 ||
      X509_REQ_sign_ctx(req.get(), mctx.get()) <= 0) {
    // A key in a token or TPM: the provider's error keeps its kind (a TPM gone is a device
    // error, exit 5) and names the device.
    return tl::unexpected(
        ca::provider_error(ErrorKind::internal, "cannot sign the request", /*prefix_ours=*/true));
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return tl::unexpected(ossl_error("cannot encode the request"));
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<SecureString> private_key_pem(EVP_PKEY* key) {
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return tl::unexpected(ossl_error("cannot encode a private key"));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecureString(std::string_view(data, static_cast<size_t>(len)));
}

Result<ossl::Ptr<EVP_PKEY>> parse_private_key(std::string_view pem, const std::string& source) {
  thread_local KeyDecoder decoder;
  if (auto key = decoder.decode(pem)) return key;
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::Ptr<EVP_PKEY> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                              : nullptr);
  ossl::take_errors();
  if (!key) return fail(ErrorKind::usage, source + " holds no readable private key");
  return key;
}

Result<tokens::KeyType> key_type_of(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048:
        return tokens::KeyType::rsa_2048;
      case 3072:
        return tokens::KeyType::rsa_3072;
      case 4096:
        return tokens::KeyType::rsa_4096;
      default:
        break;
    }
  } else if (EVP_PKEY_is_a(key, "EC")) {
    char curve[64] = {0};
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                       nullptr) == 1) {
      std::string c = curve;
      if (c == "prime256v1" || c == "P-256") return tokens::KeyType::ec_p256;
      if (c == "secp384r1" || c == "P-384") return tokens::KeyType::ec_p384;
    }
  }
  return fail(ErrorKind::usage, "a key of a type hwca does not make");
}

}  // namespace hwca::k8s
