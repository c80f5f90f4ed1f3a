// TPM keys through the hwca provider, as the CA core uses them: loaded by tpm2: URI with
// ca::CryptoContext (OSSL_STORE), then used by plain OpenSSL APIs: EVP_DigestSign,
// X509_REQ_sign, X509_sign (PKCS#1, PSS and ECDSA) and a TLS server (TLS 1.2 and 1.3) whose
// key stays in a swtpm. Every signature is checked with the public key alone in the default
// provider; the TLS client runs in the default library context and never touches the TPM
// (a swtpm serves one connection: hwca's).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_esys.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "ca/crypto_context.hpp"
#include "providers/provider_init.h"
#include "support/scoped_env.hpp"
#include "support/sign_check.hpp"
#include "support/swtpm.hpp"
#include "support/temp_dir.hpp"
#include "tokens/keystore.hpp"
#include "tokens/registry.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::test {
namespace {

using tokens::KeyType;
using tokens::tpm2::TpmContext;

constexpr const char* kPwEnv = "HWCA_IT_TPM2_PROVIDER_PASSWORD";
constexpr const char* kBadPwEnv = "HWCA_IT_TPM2_PROVIDER_BAD_PASSWORD";

ossl::Ptr<EVP_PKEY> public_copy(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  EXPECT_GT(len, 0);
  const unsigned char* p = der;
  ossl::Ptr<EVP_PKEY> pub(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  return pub;
}

// The first error the provider raised (its kind and message), the queue cleared.
std::optional<Error> provider_error() {
  std::optional<Error> out;
  unsigned long code;
  const char* data = nullptr;
  int flags = 0;
  while ((code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    int reason = ERR_GET_REASON(code);
    if (!out && reason > HWCA_REASON_KIND_BASE && reason < HWCA_REASON_KIND_BASE + 16) {
      out = Error{static_cast<ErrorKind>(reason - HWCA_REASON_KIND_BASE),
                  (flags & ERR_TXT_STRING) != 0 && data != nullptr ? data : ""};
    }
  }
  return out;
}

struct KeyCase {
  const char* name;
  const char* uri_base;  // "file" (a file in the suite's folder) or a handle
  KeyType type;
};

// gtest prints a parameter with this (not as bytes).
void PrintTo(const KeyCase& k, std::ostream* os) { *os << k.name; }

const KeyCase kFileEc{"file_ec_p256", "file", KeyType::ec_p256};
const KeyCase kFileRsa{"file_rsa_2048", "file", KeyType::rsa_2048};
const KeyCase kHandleEc{"handle_ec_p384", "0x81000020", KeyType::ec_p384};
const KeyCase kHandleRsa{"handle_rsa_2048", "0x81000021", KeyType::rsa_2048};

const char* digest_for(KeyType type) { return type == KeyType::ec_p384 ? "SHA384" : "SHA256"; }

// One swtpm, one CryptoContext and the keys made in it for a suite; keys are made on first
// use.
class Tpm2ProviderBase : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    tpm_ = new Swtpm();
    dir_ = new TempDir("hwca-tpm2-provider");
    auto crypto = ca::CryptoContext::create();
    if (!crypto) throw std::runtime_error(crypto.error().message);
    crypto_ = crypto->release();
  }
  static void TearDownTestSuite() {
    uris_.clear();
    delete crypto_;
    crypto_ = nullptr;
    TpmContext::close_all();
    delete dir_;
    dir_ = nullptr;
    delete tpm_;
    tpm_ = nullptr;
  }

 protected:
  static tokens::OpenOptions store_options(const std::string& pin_source = "") {
    tokens::OpenOptions o;
    o.tcti = tpm_->tcti();
    o.pin_source = pin_source;
    return o;
  }

  static tokens::OpenOptions load_options(const std::string& pin_source = "") {
    tokens::OpenOptions o;
    o.tcti = tpm_->tcti();
    o.pin_source = pin_source;
    return o;
  }

  // The key's URI; the key is made the first time.
  static std::string uri(const KeyCase& k) {
    auto it = uris_.find(k.name);
    if (it != uris_.end()) return it->second;
    std::string text = std::string(k.uri_base) == "file"
                           ? "tpm2:file=" + dir_->file(std::string(k.name) + ".pem")
                           : std::string("tpm2:handle=") + k.uri_base;
    auto store = tokens::open_store(text, store_options());
    if (!store) throw std::runtime_error(store.error().message);
    auto info = (*store)->create_key({text, k.type});
    if (!info) throw std::runtime_error("creating " + text + ": " + info.error().message);
    uris_[k.name] = info->uri;
    return info->uri;
  }

  static ossl::Ptr<EVP_PKEY> load(const KeyCase& k) {
    auto key = crypto_->load_private_key(uri(k), load_options());
    if (!key) throw std::runtime_error("loading " + uri(k) + ": " + key.error().message);
    return std::move(*key);
  }

  // The public key as the key store gives it (not through the provider).
  static ossl::Ptr<EVP_PKEY> store_public_key(const KeyCase& k) {
    auto store = tokens::open_store(uri(k), store_options());
    if (!store) throw std::runtime_error(store.error().message);
    auto pub = (*store)->get_public_key(uri(k));
    if (!pub) throw std::runtime_error(pub.error().message);
    return std::move(*pub);
  }

  static Swtpm* tpm_;
  static TempDir* dir_;
  static ca::CryptoContext* crypto_;
  static std::map<std::string, std::string> uris_;
};
Swtpm* Tpm2ProviderBase::tpm_ = nullptr;
TempDir* Tpm2ProviderBase::dir_ = nullptr;
ca::CryptoContext* Tpm2ProviderBase::crypto_ = nullptr;
std::map<std::string, std::string> Tpm2ProviderBase::uris_;

ossl::Ptr<X509> self_signed(EVP_PKEY* key, OSSL_LIB_CTX* libctx, const std::string& cn) {
  ossl::Ptr<X509> cert(X509_new_ex(libctx, nullptr));
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 0x7e57);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = "DNS:" + cn;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  EXPECT_NE(ext, nullptr);
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  return cert;
}

// A copy of `cert` with one bit of its signature flipped.
ossl::Ptr<X509> tampered(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  EXPECT_GT(len, 10);
  der[len - 5] ^= 0x01;  // inside the signature BIT STRING, the last element
  const unsigned char* p = der;
  ossl::Ptr<X509> out(d2i_X509(nullptr, &p, len));
  OPENSSL_free(der);
  return out;
}

// --- keys through the provider -----------------------------------------------------------

class Tpm2Provider : public Tpm2ProviderBase, public ::testing::WithParamInterface<KeyCase> {
 protected:
  void SetUp() override {
    key_ = load(GetParam());
    pub_ = public_copy(key_.get());
    ASSERT_TRUE(pub_);
  }
  void TearDown() override { ERR_clear_error(); }

  bool rsa() const { return tokens::is_rsa(GetParam().type); }

  // Sign with the TPM key through the provider; verify in the default provider.
  void sign_and_verify(const char* digest, bool pss) {
    expect_digest_sign_verifies(crypto_->libctx(), key_.get(), pub_.get(), digest, pss,
                                "signed by a key that never leaves the TPM");
  }

  // An EVP_MD_CTX set up to sign with the TPM key, RSA-PSS if asked.
  ossl::Ptr<EVP_MD_CTX> signing_ctx(const char* digest, bool pss) {
    ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    EXPECT_EQ(EVP_DigestSignInit_ex(mctx.get(), &pctx, digest, crypto_->libctx(), nullptr,
                                    key_.get(), nullptr),
              1)
        << ossl::take_errors();
    if (pss) {
      EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
      EXPECT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    return mctx;
  }

  ossl::Ptr<EVP_PKEY> key_, pub_;
};

TEST_P(Tpm2Provider, LoadsAsAnOrdinaryKeyOfTheRightTypeAndSize) {
  const KeyCase& k = GetParam();
  EXPECT_EQ(EVP_PKEY_is_a(key_.get(), rsa() ? "RSA" : "EC"), 1);
  EXPECT_EQ(EVP_PKEY_get_bits(key_.get()), tokens::key_bits(k.type));
  auto from_store = store_public_key(k);
  EXPECT_EQ(EVP_PKEY_eq(key_.get(), from_store.get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(pub_.get(), from_store.get()), 1);
  // Another key is not this one.
  ossl::Ptr<EVP_PKEY> other(rsa() ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                  : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EXPECT_NE(EVP_PKEY_eq(key_.get(), other.get()), 1);
  // The private half does not come out.
  unsigned char* der = nullptr;
  EXPECT_LE(i2d_PrivateKey(key_.get(), &der), 0);
  OPENSSL_free(der);
  ERR_clear_error();
}

TEST_P(Tpm2Provider, DigestSignVerifiesWithThePublicKey) {
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) sign_and_verify(digest, false);
  if (rsa()) {
    for (const char* digest : {"SHA256", "SHA384", "SHA512"}) sign_and_verify(digest, true);
  }
}

TEST_P(Tpm2Provider, CertificateRequestSignedInTheTpmVerifies) {
  const char* digest = digest_for(GetParam().type);
  ossl::Ptr<X509_REQ> req(X509_REQ_new_ex(crypto_->libctx(), nullptr));
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("tpm2 csr"), -1, -1, 0);
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), key_.get()), 1) << ossl::take_errors();
  ASSERT_GT(X509_REQ_sign(req.get(), key_.get(), EVP_get_digestbyname(digest)), 0)
      << ossl::take_errors();
  EXPECT_EQ(X509_REQ_verify(req.get(), pub_.get()), 1);
  EXPECT_EQ(X509_REQ_get_signature_nid(req.get()),
            rsa() ? NID_sha256WithRSAEncryption
                  : (GetParam().type == KeyType::ec_p384 ? NID_ecdsa_with_SHA384
                                                         : NID_ecdsa_with_SHA256));
  if (rsa()) {
    auto mctx = signing_ctx("SHA256", true);
    ASSERT_GT(X509_REQ_sign_ctx(req.get(), mctx.get()), 0) << ossl::take_errors();
    EXPECT_EQ(X509_REQ_get_signature_nid(req.get()), NID_rsassaPss);
    EXPECT_EQ(X509_REQ_verify(req.get(), pub_.get()), 1) << ossl::take_errors();
  }
}

TEST_P(Tpm2Provider, SelfSignedCertificateVerifiesAndMatchesTheKey) {
  const char* digest = digest_for(GetParam().type);
  auto cert = self_signed(key_.get(), crypto_->libctx(), "tpm2.test");
  ASSERT_GT(X509_sign(cert.get(), key_.get(), EVP_get_digestbyname(digest)), 0)
      << ossl::take_errors();
  EXPECT_EQ(X509_verify(cert.get(), pub_.get()), 1);
  EXPECT_EQ(X509_check_private_key(cert.get(), key_.get()), 1) << ossl::take_errors();
  auto bad = tampered(cert.get());
  ASSERT_TRUE(bad);
  EXPECT_NE(X509_verify(bad.get(), pub_.get()), 1);
  ERR_clear_error();
  if (rsa()) {
    auto pss = self_signed(key_.get(), crypto_->libctx(), "pss.tpm2.test");
    for (const char* d : {"SHA256", "SHA384", "SHA512"}) {
      auto mctx = signing_ctx(d, true);
      ASSERT_GT(X509_sign_ctx(pss.get(), mctx.get()), 0) << d << ": " << ossl::take_errors();
      EXPECT_EQ(X509_get_signature_nid(pss.get()), NID_rsassaPss);
      EXPECT_EQ(X509_verify(pss.get(), pub_.get()), 1) << d << ": " << ossl::take_errors();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Keys, Tpm2Provider,
                         ::testing::Values(kFileEc, kFileRsa, kHandleEc, kHandleRsa),
                         [](const ::testing::TestParamInfo<KeyCase>& p) {
                           return std::string(p.param.name);
                         });

// --- passwords ---------------------------------------------------------------------------

class Tpm2ProviderPassword : public Tpm2ProviderBase {};

uint32_t lockout_counter(const std::string& tcti) {
  auto ctx = TpmContext::open({tcti, "--tcti"});
  if (!ctx) throw std::runtime_error(ctx.error().message);
  return (*ctx)->with([](ESYS_CONTEXT* esys) -> uint32_t {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* data = nullptr;
    TSS2_RC rc =
        Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                           TPM2_PT_LOCKOUT_COUNTER, 1, &more, &data);
    tokens::tpm2::EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
    if (rc != TSS2_RC_SUCCESS || data->data.tpmProperties.count == 0) return 9999;
    return data->data.tpmProperties.tpmProperty[0].value;
  });
}

TEST_F(Tpm2ProviderPassword, WrongPasswordIsAnAuthErrorAndTheRightOneSigns) {
  ScopedEnv pw_env(kPwEnv, "tpm key password");
  ScopedEnv bad_pw_env(kBadPwEnv, "not it");
  std::string uri = "tpm2:file=" + dir_->file("pw.pem");
  {
    auto store = tokens::open_store(uri, store_options(std::string("env:") + kPwEnv));
    ASSERT_TRUE(store);
    auto info = (*store)->create_key({uri, KeyType::ec_p256});
    ASSERT_TRUE(info) << info.error().message;
  }
  const unsigned char msg[] = "password";
  auto try_sign = [&](EVP_PKEY* key) {
    ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
    EXPECT_EQ(EVP_DigestSignInit_ex(mctx.get(), nullptr, "SHA256", crypto_->libctx(), nullptr, key,
                                    nullptr),
              1);
    std::vector<unsigned char> sig(EVP_PKEY_get_size(key));
    size_t len = sig.size();
    return EVP_DigestSign(mctx.get(), sig.data(), &len, msg, sizeof msg) == 1;
  };

  // No password at all: the load fails, as an auth error.
  ERR_clear_error();
  auto none = crypto_->load_private_key(uri, load_options());
  ASSERT_FALSE(none) << "a password key loaded without a password";
  EXPECT_EQ(none.error().kind, ErrorKind::auth) << none.error().message;

  // A wrong one: the key loads (its password is first used when it signs), signing fails
  // as an auth error.
  uint32_t before = lockout_counter(tpm_->tcti());
  auto bad = crypto_->load_private_key(uri, load_options(std::string("env:") + kBadPwEnv));
  ASSERT_TRUE(bad) << bad.error().message;
  ERR_clear_error();
  EXPECT_FALSE(try_sign(bad->get())) << "signed with a wrong password";
  auto e = provider_error();
  ASSERT_TRUE(e) << "no error from the provider";
  EXPECT_EQ(e->kind, ErrorKind::auth) << e->message;
  EXPECT_NE(e->message.find("TPM_RC_AUTH_FAIL"), std::string::npos) << e->message;
  EXPECT_EQ(e->message.find("not it"), std::string::npos);
  EXPECT_EQ(lockout_counter(tpm_->tcti()), before + 1);
  // X509_sign with the same key: the same error, and the TPM is not asked again.
  auto cert = self_signed(bad->get(), crypto_->libctx(), "pw.tpm2.test");
  EXPECT_LE(X509_sign(cert.get(), bad->get(), EVP_sha256()), 0);
  auto again = provider_error();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kind, ErrorKind::auth) << again->message;
  EXPECT_EQ(lockout_counter(tpm_->tcti()), before + 1);

  // The right one signs, through a pin source given to the load or in the URI.
  auto good = crypto_->load_private_key(uri, load_options(std::string("env:") + kPwEnv));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_TRUE(try_sign(good->get())) << ossl::take_errors();
  auto good_uri = crypto_->load_private_key(uri + "?pin-source=env:" + kPwEnv, load_options());
  ASSERT_TRUE(good_uri) << good_uri.error().message;
  ASSERT_GT(X509_sign(cert.get(), good_uri->get(), EVP_sha256()), 0) << ossl::take_errors();
  auto pub = public_copy(good_uri->get());
  EXPECT_EQ(X509_verify(cert.get(), pub.get()), 1);
  EXPECT_EQ(lockout_counter(tpm_->tcti()), before + 1);
}

TEST_F(Tpm2ProviderPassword, BadUrisAndMissingKeysAreClearErrors) {
  struct Case {
    std::string uri;
    ErrorKind kind;
    std::string text;
  } cases[] = {
      {"tpm2:file=" + dir_->file("missing.pem"), ErrorKind::not_found, "missing.pem"},
      {"tpm2:handle=0x81000099", ErrorKind::not_found, "0x81000099"},
      {"tpm2:handle=0x81000001", ErrorKind::usage, "0x81000001"},
      {"tpm2:file=/k.pem;handle=0x81000010", ErrorKind::usage, "exactly one"},
      {"tpm2:file=/k.pem;tcti=swtpm", ErrorKind::usage, "HWCA_TCTI"},
  };
  for (const auto& c : cases) {
    auto key = crypto_->load_private_key(c.uri, load_options());
    ASSERT_FALSE(key) << c.uri;
    EXPECT_EQ(key.error().kind, c.kind) << c.uri << ": " << key.error().message;
    EXPECT_NE(key.error().message.find(c.text), std::string::npos)
        << c.uri << ": " << key.error().message;
  }
}

// --- TLS ---------------------------------------------------------------------------------

// libssl, loaded when first needed (the test programs link libcrypto only). Its functions
// are declared by <openssl/ssl.h>; the pointers have their exact types.
// clang-format off
#define HWCA_SSL_FUNCTIONS(X)                                                          \
  X(TLS_server_method) X(TLS_client_method)                                            \
  X(SSL_CTX_new_ex) X(SSL_CTX_free) X(SSL_CTX_ctrl) X(SSL_CTX_set_verify)              \
  X(SSL_CTX_use_certificate) X(SSL_CTX_use_PrivateKey) X(SSL_CTX_check_private_key)    \
  X(SSL_CTX_get_cert_store)                                                            \
  X(SSL_new) X(SSL_free) X(SSL_set_bio)                                                \
  X(SSL_set_connect_state) X(SSL_set_accept_state)                                     \
  X(SSL_set1_host) X(SSL_do_handshake) X(SSL_get_error) X(SSL_version)                 \
  X(SSL_get_verify_result) X(SSL_get1_peer_certificate)                                \
  X(SSL_get_peer_signature_type_nid) X(SSL_read) X(SSL_write)
// clang-format on

struct LibSsl {
#define HWCA_SSL_MEMBER(name) decltype(&::name) name = nullptr;
  HWCA_SSL_FUNCTIONS(HWCA_SSL_MEMBER)
#undef HWCA_SSL_MEMBER
  std::string error;
};

const LibSsl& libssl() {
  static const LibSsl lib = [] {
    LibSsl l;
    void* handle = ::dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL);  // never closed
    if (handle == nullptr) {
      l.error = std::string("dlopen libssl.so.3: ") + ::dlerror();
      return l;
    }
#define HWCA_SSL_LOAD(name)                                  \
  {                                                          \
    void* sym = ::dlsym(handle, #name);                      \
    if (sym == nullptr) l.error += std::string(" ") + #name; \
    std::memcpy(&l.name, &sym, sizeof sym);                  \
  }
    HWCA_SSL_FUNCTIONS(HWCA_SSL_LOAD)
#undef HWCA_SSL_LOAD
    if (!l.error.empty()) l.error = "libssl lacks" + l.error;
    return l;
  }();
  return lib;
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { libssl().SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { libssl().SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

struct TlsCase {
  const char* name;
  KeyCase key;
  int version;          // TLS1_2_VERSION or TLS1_3_VERSION
  const char* sigalgs;  // the client's signature algorithms; nullptr: OpenSSL's defaults
  int peer_sig_type;    // the signature type the client must see
};

void PrintTo(const TlsCase& c, std::ostream* os) { *os << c.name; }

const TlsCase kTlsCases[] = {
    {"ec_p256_tls12", kFileEc, TLS1_2_VERSION, nullptr, EVP_PKEY_EC},
    {"ec_p256_tls13", kFileEc, TLS1_3_VERSION, nullptr, EVP_PKEY_EC},
    {"rsa_2048_tls12_pss", kFileRsa, TLS1_2_VERSION, nullptr, EVP_PKEY_RSA_PSS},
    {"rsa_2048_tls12_pkcs1", kFileRsa, TLS1_2_VERSION, "RSA+SHA256:RSA+SHA384", EVP_PKEY_RSA},
    {"rsa_2048_tls13", kFileRsa, TLS1_3_VERSION, nullptr, EVP_PKEY_RSA_PSS},
    {"handle_ec_p384_tls12", kHandleEc, TLS1_2_VERSION, nullptr, EVP_PKEY_EC},
    {"handle_ec_p384_tls13", kHandleEc, TLS1_3_VERSION, "ECDSA+SHA384", EVP_PKEY_EC},
    {"handle_rsa_2048_tls13", kHandleRsa, TLS1_3_VERSION, nullptr, EVP_PKEY_RSA_PSS},
};

class Tpm2Tls : public Tpm2ProviderBase, public ::testing::WithParamInterface<TlsCase> {};

// Drive both ends of a handshake over a BIO pair until both are done or one fails.
std::string handshake(SSL* client, SSL* server) {
  const LibSsl& s = libssl();
  bool client_done = false, server_done = false;
  for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
    for (auto [ssl, done, who] :
         {std::tuple{client, &client_done, "client"}, std::tuple{server, &server_done, "server"}}) {
      if (*done) continue;
      int rc = s.SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
        continue;
      }
      int err = s.SSL_get_error(ssl, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        return std::string(who) + " failed (SSL error " + std::to_string(err) +
               "): " + ossl::take_errors();
      }
    }
  }
  return client_done && server_done ? "" : "the handshake did not finish";
}

// Both ends of one TLS connection over a BIO pair: a server in the CryptoContext's library
// context with `key` and `cert`, a client in OpenSSL's default context (no hwca provider,
// no TPM) that trusts `trusted` only and wants the name tpm.test.
struct TlsPair {
  SslCtxPtr server_ctx, client_ctx;
  SslPtr server, client;
  std::string setup_error;  // "" when both ends are ready

  TlsPair(const TlsCase& c, OSSL_LIB_CTX* libctx, EVP_PKEY* key, X509* cert, X509* trusted) {
    const LibSsl& s = libssl();
    server_ctx.reset(s.SSL_CTX_new_ex(libctx, nullptr, s.TLS_server_method()));
    client_ctx.reset(s.SSL_CTX_new_ex(nullptr, nullptr, s.TLS_client_method()));
    if (!server_ctx || !client_ctx) {
      setup_error = "SSL_CTX_new_ex: " + ossl::take_errors();
      return;
    }
    for (SSL_CTX* ctx : {server_ctx.get(), client_ctx.get()}) {
      if (s.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, c.version, nullptr) != 1 ||
          s.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, c.version, nullptr) != 1) {
        setup_error = "cannot set the protocol version";
        return;
      }
    }
    if (s.SSL_CTX_use_certificate(server_ctx.get(), cert) != 1 ||
        s.SSL_CTX_use_PrivateKey(server_ctx.get(), key) != 1 ||
        s.SSL_CTX_check_private_key(server_ctx.get()) != 1) {
      setup_error = "server certificate and key: " + ossl::take_errors();
      return;
    }
    if (c.sigalgs != nullptr && s.SSL_CTX_ctrl(client_ctx.get(), SSL_CTRL_SET_SIGALGS_LIST, 0,
                                               const_cast<char*>(c.sigalgs)) != 1) {
      setup_error = std::string("client sigalgs ") + c.sigalgs + ": " + ossl::take_errors();
      return;
    }
    s.SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (X509_STORE_add_cert(s.SSL_CTX_get_cert_store(client_ctx.get()), trusted) != 1) {
      setup_error = "X509_STORE_add_cert: " + ossl::take_errors();
      return;
    }
    server.reset(s.SSL_new(server_ctx.get()));
    client.reset(s.SSL_new(client_ctx.get()));
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    if (!server || !client || BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) {
      setup_error = "SSL_new or BIO_new_bio_pair: " + ossl::take_errors();
      return;
    }
    s.SSL_set_bio(client.get(), client_bio, client_bio);
    s.SSL_set_bio(server.get(), server_bio, server_bio);
    s.SSL_set_connect_state(client.get());
    s.SSL_set_accept_state(server.get());
    if (s.SSL_set1_host(client.get(), "tpm.test") != 1) setup_error = "SSL_set1_host";
  }
};

TEST_P(Tpm2Tls, HandshakeWithTheServerKeyInTheTpm) {
  const TlsCase& c = GetParam();
  const LibSsl& s = libssl();
  ASSERT_EQ(s.error, "");
  ossl::Ptr<EVP_PKEY> key = load(c.key);
  // The server's certificate, self-signed with X509_sign through the TPM key.
  auto cert = self_signed(key.get(), crypto_->libctx(), "tpm.test");
  ASSERT_GT(X509_sign(cert.get(), key.get(), EVP_get_digestbyname(digest_for(c.key.type))), 0)
      << ossl::take_errors();

  TlsPair tls(c, crypto_->libctx(), key.get(), cert.get(), cert.get());
  ASSERT_EQ(tls.setup_error, "");
  std::string failed = handshake(tls.client.get(), tls.server.get());
  ASSERT_EQ(failed, "");
  EXPECT_EQ(s.SSL_version(tls.client.get()), c.version);
  EXPECT_EQ(s.SSL_version(tls.server.get()), c.version);
  EXPECT_EQ(s.SSL_get_verify_result(tls.client.get()), X509_V_OK);
  ossl::Ptr<X509> peer(s.SSL_get1_peer_certificate(tls.client.get()));
  ASSERT_TRUE(peer);
  EXPECT_EQ(X509_cmp(peer.get(), cert.get()), 0);
  int sig_type = 0;
  ASSERT_EQ(s.SSL_get_peer_signature_type_nid(tls.client.get(), &sig_type), 1);
  EXPECT_EQ(sig_type, c.peer_sig_type) << OBJ_nid2sn(sig_type);

  // Application data both ways (TLS 1.3 session tickets are read on the way).
  const char ping[] = "ping", pong[] = "pong";
  char buf[16] = {};
  ASSERT_EQ(s.SSL_write(tls.client.get(), ping, sizeof ping), static_cast<int>(sizeof ping));
  ASSERT_EQ(s.SSL_read(tls.server.get(), buf, sizeof buf), static_cast<int>(sizeof ping));
  EXPECT_STREQ(buf, ping);
  ASSERT_EQ(s.SSL_write(tls.server.get(), pong, sizeof pong), static_cast<int>(sizeof pong));
  ASSERT_EQ(s.SSL_read(tls.client.get(), buf, sizeof buf), static_cast<int>(sizeof pong));
  EXPECT_STREQ(buf, pong);

  // The same server against a client that trusts another key's certificate for the same
  // name: refused (so the verification above is one that can fail).
  ossl::Ptr<EVP_PKEY> other(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  auto other_cert = self_signed(other.get(), nullptr, "tpm.test");
  ASSERT_GT(X509_sign(other_cert.get(), other.get(), EVP_sha256()), 0);
  TlsPair refused(c, crypto_->libctx(), key.get(), cert.get(), other_cert.get());
  ASSERT_EQ(refused.setup_error, "");
  EXPECT_NE(handshake(refused.client.get(), refused.server.get()), "")
      << "a client trusting another certificate accepted the server";
  EXPECT_NE(s.SSL_get_verify_result(refused.client.get()), X509_V_OK);
  ERR_clear_error();
}

INSTANTIATE_TEST_SUITE_P(Versions, Tpm2Tls, ::testing::ValuesIn(kTlsCases),
                         [](const ::testing::TestParamInfo<TlsCase>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace hwca::test
