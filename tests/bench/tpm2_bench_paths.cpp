#include "bench/tpm2_bench_paths.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "ca/crypto_context.hpp"
#include "common/ossl.hpp"
#include "tokens/registry.hpp"
#include "tokens/tpm2/key_file.hpp"
#include "tokens/tpm2/tcti.hpp"
#include "tokens/tpm2/tpm_context.hpp"
#include "tokens/tpm2/tpm_key.hpp"

namespace hwca::bench {
namespace {

using tokens::tpm2::TpmContext;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void fail(const std::string& what) {
  std::string errors = ossl::take_errors();
  throw std::runtime_error(errors.empty() ? what : what + ": " + errors);
}

std::string uri_of(const std::string& file) { return "tpm2:file=" + file; }

tokens::OpenOptions open_options(const std::string& tcti) {
  tokens::OpenOptions o;
  o.tcti = tcti;
  return o;
}

// EVP_DigestSignInit_ex + EVP_DigestSign with SHA-256, as X509_sign does; the first time,
// also checks that the operation runs in provider `want` (OpenSSL may pick the signature
// implementation of another provider than the key's).
class DigestSigner {
 public:
  DigestSigner(OSSL_LIB_CTX* libctx, EVP_PKEY* pkey, std::string want)
      : libctx_(libctx), pkey_(pkey), want_(std::move(want)), md_(EVP_MD_CTX_new()) {
    if (!md_) fail("EVP_MD_CTX_new");
  }

  std::vector<uint8_t> sign(std::span<const uint8_t> message) {
    EVP_MD_CTX_reset(md_.get());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestSignInit_ex(md_.get(), &pctx, "SHA256", libctx_, nullptr, pkey_, nullptr) != 1) {
      fail("EVP_DigestSignInit_ex");
    }
    if (!checked_) {
      const OSSL_PROVIDER* prov = EVP_PKEY_CTX_get0_provider(pctx);
      std::string name = prov != nullptr ? OSSL_PROVIDER_get0_name(prov) : "";
      if (name != want_) {
        throw std::runtime_error("the signature ran in provider '" + name + "', not '" + want_ +
                                 "'");
      }
      checked_ = true;
    }
    std::vector<uint8_t> sig(256);
    size_t len = sig.size();
    if (EVP_DigestSign(md_.get(), sig.data(), &len, message.data(), message.size()) != 1) {
      fail("EVP_DigestSign");
    }
    sig.resize(len);
    return sig;
  }

 private:
  OSSL_LIB_CTX* libctx_;
  EVP_PKEY* pkey_;
  std::string want_;
  ossl::Ptr<EVP_MD_CTX> md_;
  bool checked_ = false;
};

void check_provider(const EVP_PKEY* pkey, const std::string& want) {
  if (provider_of(pkey) != want) {
    throw std::runtime_error("the key was loaded by provider '" + provider_of(pkey) + "', not '" +
                             want + "'");
  }
}

class ProviderSession : public SignSession {
 public:
  ProviderSession(const std::string& tcti, const std::string& file) {
    auto cc = ca::CryptoContext::create();
    if (!cc) throw std::runtime_error(cc.error().message);
    cc_ = std::move(*cc);
    tokens::OpenOptions options;
    options.tcti = tcti;
    auto pkey = cc_->load_private_key(uri_of(file), options);
    if (!pkey) throw std::runtime_error(pkey.error().message);
    pkey_ = std::move(*pkey);
    check_provider(pkey_.get(), "hwca");
    signer_ = std::make_unique<DigestSigner>(cc_->libctx(), pkey_.get(), "hwca");
  }
  ~ProviderSession() override {
    signer_.reset();
    pkey_.reset();
    cc_.reset();
    TpmContext::close_all();  // the last handle on the context is gone: finalised
  }
  std::vector<uint8_t> sign(std::span<const uint8_t> message) override {
    return signer_->sign(message);
  }
  EVP_PKEY* key() const override { return pkey_.get(); }

 private:
  std::unique_ptr<ca::CryptoContext> cc_;
  ossl::Ptr<EVP_PKEY> pkey_;
  std::unique_ptr<DigestSigner> signer_;
};

// tpm2-openssl in a library context of its own: its ESYS context lives from the provider's
// load to its unload.
class OpensslContext {
 public:
  explicit OpensslContext(const std::string& tcti) {
    ::setenv("TPM2OPENSSL_TCTI", tcti.c_str(), 1);  // read when the provider is loaded
    libctx_.reset(OSSL_LIB_CTX_new());
    if (!libctx_) fail("OSSL_LIB_CTX_new");
    tpm2_ = OSSL_PROVIDER_load(libctx_.get(), "tpm2");
    if (tpm2_ == nullptr) fail("cannot load tpm2-openssl (provider \"tpm2\")");
    default_ = OSSL_PROVIDER_load(libctx_.get(), "default");
    if (default_ == nullptr) fail("cannot load the default provider");
  }
  ~OpensslContext() {
    if (default_ != nullptr) OSSL_PROVIDER_unload(default_);
    if (tpm2_ != nullptr) OSSL_PROVIDER_unload(tpm2_);  // its teardown finalises ESYS
    libctx_.reset();
  }
  OSSL_LIB_CTX* libctx() const { return libctx_.get(); }

 private:
  ossl::Ptr<OSSL_LIB_CTX> libctx_;
  OSSL_PROVIDER* tpm2_ = nullptr;
  OSSL_PROVIDER* default_ = nullptr;
};

class OpensslSession : public SignSession {
 public:
  OpensslSession(const std::string& tcti, const std::string& file) : ossl_(tcti) {
    ossl::Ptr<OSSL_STORE_CTX> store(OSSL_STORE_open_ex(file.c_str(), ossl_.libctx(),
                                                       "?provider=tpm2", nullptr, nullptr, nullptr,
                                                       nullptr, nullptr));
    if (!store) fail("tpm2-openssl: cannot open " + file);
    OSSL_STORE_expect(store.get(), OSSL_STORE_INFO_PKEY);
    while (!pkey_ && OSSL_STORE_eof(store.get()) == 0) {
      ossl::Ptr<OSSL_STORE_INFO> info(OSSL_STORE_load(store.get()));
      if (!info) break;
      if (OSSL_STORE_INFO_get_type(info.get()) == OSSL_STORE_INFO_PKEY) {
        pkey_.reset(OSSL_STORE_INFO_get1_PKEY(info.get()));
      }
    }
    if (!pkey_) fail("tpm2-openssl: no private key in " + file);
    check_provider(pkey_.get(), "tpm2");
    signer_ = std::make_unique<DigestSigner>(ossl_.libctx(), pkey_.get(), "tpm2");
  }
  ~OpensslSession() override {
    signer_.reset();
    pkey_.reset();  // flushes the key from the TPM
  }
  std::vector<uint8_t> sign(std::span<const uint8_t> message) override {
    return signer_->sign(message);
  }
  EVP_PKEY* key() const override { return pkey_.get(); }

 private:
  OpensslContext ossl_;  // destroyed last
  ossl::Ptr<EVP_PKEY> pkey_;
  std::unique_ptr<DigestSigner> signer_;
};

class SignerSession : public SignSession {
 public:
  SignerSession(const std::string& tcti, const std::string& file) {
    auto store = tokens::open_store(uri_of(file), open_options(tcti));
    if (!store) throw std::runtime_error(store.error().message);
    auto signer = (*store)->create_signer(uri_of(file));
    if (!signer) throw std::runtime_error(signer.error().message);
    signer_ = std::move(*signer);
  }
  ~SignerSession() override {
    signer_.reset();
    TpmContext::close_all();
  }
  std::vector<uint8_t> sign(std::span<const uint8_t> message) override {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(message.data(), message.size(), digest);
    tokens::SignRequest req;
    req.scheme = tokens::SigScheme::ecdsa;
    req.digest = "SHA256";
    req.hash = digest;
    auto sig = signer_->sign(req);
    if (!sig) throw std::runtime_error(sig.error().message);
    return std::move(*sig);
  }
  EVP_PKEY* key() const override { return signer_->public_key(); }

 private:
  std::shared_ptr<tokens::Signer> signer_;
};

class HwcaMaker : public KeyMaker {
 public:
  HwcaMaker(const std::string& tcti, bool parts) : tcti_(tcti), parts_(parts) {
    auto ctx = TpmContext::open(tokens::tpm2::choose_tcti(tcti, nullptr));
    if (!ctx) throw std::runtime_error(ctx.error().message);
    ctx_ = std::move(*ctx);  // started; create_key finds it in the cache
  }
  ~HwcaMaker() override {
    ctx_.reset();
    TpmContext::close_all();
  }
  MadeKey make(tokens::KeyType type, const std::string& file) override {
    return parts_ ? make_in_parts(type, file) : make_whole(type, file);
  }

 private:
  MadeKey make_whole(tokens::KeyType type, const std::string& file) {
    auto store = tokens::open_store(uri_of(file), open_options(tcti_));
    if (!store) throw std::runtime_error(store.error().message);
    MadeKey out;
    auto t0 = std::chrono::steady_clock::now();
    auto made = (*store)->create_key(tokens::CreateKeyRequest{uri_of(file), type});
    out.make_ms = ms_since(t0);
    if (!made) throw std::runtime_error(made.error().message);
    return out;
  }

  // What Tpm2KeyStore::create_key does for a file key without a password, less its checks
  // of the URI and the path.
  MadeKey make_in_parts(tokens::KeyType type, const std::string& file) {
    MadeKey out;
    tokens::tpm2::NewKey spec;
    spec.type = type;
    auto t0 = std::chrono::steady_clock::now();
    auto made = tokens::tpm2::create_key(ctx_, spec);
    out.make_ms = ms_since(t0);
    if (!made) throw std::runtime_error(made.error().message);
    t0 = std::chrono::steady_clock::now();
    auto written = tokens::tpm2::write_key_file(file, *made);
    out.save_ms = ms_since(t0);
    if (!written) throw std::runtime_error(written.error().message);
    return out;
  }

  std::string tcti_;
  bool parts_;
  std::shared_ptr<TpmContext> ctx_;
};

class OpensslMaker : public KeyMaker {
 public:
  explicit OpensslMaker(const std::string& tcti) : ossl_(tcti) {}
  MadeKey make(tokens::KeyType type, const std::string& file) override {
    MadeKey out;
    auto t0 = std::chrono::steady_clock::now();
    bool rsa = tokens::is_rsa(type);
    ossl::Ptr<EVP_PKEY_CTX> ctx(
        EVP_PKEY_CTX_new_from_name(ossl_.libctx(), rsa ? "RSA" : "EC", "provider=tpm2"));
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) fail("tpm2-openssl: keygen init");
    unsigned int bits = static_cast<unsigned int>(tokens::key_bits(type));
    std::string group = type == tokens::KeyType::ec_p384 ? "P-384" : "P-256";
    OSSL_PARAM params[2] = {
        rsa ? OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_BITS, &bits)
            : OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group.data(), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_set_params(ctx.get(), params) != 1) fail("tpm2-openssl: keygen params");
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
      fail(std::string("tpm2-openssl: making an ") + tokens::key_type_name(type) + " key");
    }
    ossl::Ptr<EVP_PKEY> pkey(raw);
    out.make_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    save_pem(pkey.get(), file);
    pkey.reset();
    out.save_ms = ms_since(t0);
    return out;
  }

 private:
  void save_pem(EVP_PKEY* pkey, const std::string& file) {
    check_provider(pkey, "tpm2");
    ossl::Ptr<BIO> bio(BIO_new_file(file.c_str(), "wx"));
    if (!bio || PEM_write_bio_PrivateKey_ex(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr,
                                            ossl_.libctx(), "?provider=tpm2") != 1) {
      fail("tpm2-openssl: writing " + file);
    }
  }

  OpensslContext ossl_;
};

}  // namespace

const char* sign_path_name(SignPath p) {
  switch (p) {
    case SignPath::provider:
      return "hwca provider";
    case SignPath::openssl:
      return "tpm2-openssl";
    case SignPath::signer:
      return "hwca Signer";
  }
  return "?";
}

const char* make_path_name(MakePath p) {
  switch (p) {
    case MakePath::hwca:
      return "hwca create_key";
    case MakePath::hwca_tpm:
      return "hwca tpm2::create_key";
    case MakePath::openssl:
      return "tpm2-openssl keygen";
  }
  return "?";
}

std::string provider_of(const EVP_PKEY* pkey) {
  const OSSL_PROVIDER* prov = pkey != nullptr ? EVP_PKEY_get0_provider(pkey) : nullptr;
  return prov != nullptr ? OSSL_PROVIDER_get0_name(prov) : "";
}

std::unique_ptr<SignSession> open_sign_session(SignPath path, const std::string& tcti,
                                               const std::string& key_file) {
  try {
    switch (path) {
      case SignPath::provider:
        return std::make_unique<ProviderSession>(tcti, key_file);
      case SignPath::openssl:
        return std::make_unique<OpensslSession>(tcti, key_file);
      case SignPath::signer:
        return std::make_unique<SignerSession>(tcti, key_file);
    }
  } catch (...) {
    TpmContext::close_all();  // a half-made session must not keep its context
    throw;
  }
  throw std::logic_error("unknown path");
}

std::unique_ptr<KeyMaker> open_key_maker(MakePath path, const std::string& tcti) {
  if (path == MakePath::openssl) return std::make_unique<OpensslMaker>(tcti);
  try {
    return std::make_unique<HwcaMaker>(tcti, path == MakePath::hwca_tpm);
  } catch (...) {
    TpmContext::close_all();
    throw;
  }
}

}  // namespace hwca::bench
