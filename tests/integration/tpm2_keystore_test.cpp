// The TPM 2.0 key store (tokens/tpm2: Tpm2KeyStore, TpmKey, TpmContext) against real swtpm
// TPMs, opened by URI through the key-store registry. Every signature is verified with the
// public key alone, in OpenSSL's default provider; what the TPM holds is checked with
// tpm2-tools and tpm2-openssl, which share no code with hwca above tpm2-tss: key files load
// in tpm2_load under tpm2-tools' own SRK with the Name hwca reports and sign in tpm2-openssl,
// persistent keys are where hwca says, and nothing stays loaded. swtpm has three object
// slots and no resource manager, serves one connection at a time (hwca's contexts are
// closed before a tool runs), and locks out after three wrong passwords (tests that send
// wrong ones use a TPM of their own).
#include <dirent.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/ossl.hpp"
#include "support/scoped_env.hpp"
#include "support/swtpm.hpp"
#include "support/temp_dir.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/keystore.hpp"
#include "tokens/registry.hpp"
#include "tokens/tpm2/key_file.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::test {
namespace {

using tokens::KeyType;
using tokens::SigScheme;
using tokens::tpm2::TpmContext;

// tpm2-tools' options for the TCG ECC P-256 SRK (the parent of every hwca key file).
const std::string kSrkTemplate =
    "-g sha256 -G ecc256:aes128cfb "
    "-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt'";

constexpr const char* kPwEnv = "HWCA_IT_TPM2_PASSWORD";
constexpr const char* kBadPwEnv = "HWCA_IT_TPM2_BAD_PASSWORD";

std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Run tpm2-tools commands (a shell script, stopped at the first failure and after 120 s, so
// that a connection hwca forgot to close fails the test instead of hanging it) in the TPM's
// folder, pointed at its TCTI. Closes hwca's contexts first. Returns the output.
std::string tools(const Swtpm& tpm, const std::vector<std::string>& commands,
                  bool expect_ok = true) {
  TpmContext::close_all();
  std::string script = "set -e\ncd '" + tpm.dir() + "'\nexport " + tpm.tools_env() + "\n";
  for (const auto& c : commands) script += c + "\n";
  std::string path = tpm.dir() + "/tools.sh";
  std::ofstream(path) << script;
  std::string out;
  FILE* p = ::popen(("timeout 120 sh '" + path + "' 2>&1").c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen failed";
    return out;
  }
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = ::pclose(p);
  if (expect_ok) {
    EXPECT_EQ(status, 0) << script << "\n" << out;
  }
  return out;
}

// The value of `key: value` in tpm2-tools' YAML output.
std::string yaml_value(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ": ", 0) == 0) return line.substr(key.size() + 2);
  }
  return "";
}

// Split a "TSS2 PRIVATE KEY" file into the files tpm2-tools takes (-u: TPM2B_PUBLIC, -r:
// TPM2B_PRIVATE, both marshalled): its last two OCTET STRINGs, read with OpenSSL's generic
// ASN.1 parser (not hwca's).
bool split_key_file(const std::string& pem, const std::string& pub_out,
                    const std::string& priv_out) {
  ossl::Ptr<BIO> bio(BIO_new_file(pem.c_str(), "r"));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long len = 0;
  if (!bio || PEM_read_bio(bio.get(), &name, &header, &der, &len) != 1) return false;
  const unsigned char* p = der;
  ASN1_SEQUENCE_ANY* seq = d2i_ASN1_SEQUENCE_ANY(nullptr, &p, len);
  bool ok = seq != nullptr && std::string(name) == "TSS2 PRIVATE KEY" && sk_ASN1_TYPE_num(seq) >= 4;
  for (int i = 0; ok && i < 2; ++i) {
    ASN1_TYPE* t = sk_ASN1_TYPE_value(seq, sk_ASN1_TYPE_num(seq) - 2 + i);
    ok = ASN1_TYPE_get(t) == V_ASN1_OCTET_STRING;
    if (ok) {
      const ASN1_OCTET_STRING* o = t->value.octet_string;
      std::ofstream(i == 0 ? pub_out : priv_out, std::ios::binary)
          .write(reinterpret_cast<const char*>(ASN1_STRING_get0_data(o)), ASN1_STRING_length(o));
    }
  }
  sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  return ok;
}

ossl::Ptr<EVP_PKEY> read_pem_pubkey(const std::string& path) {
  ossl::Ptr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return nullptr;
  return ossl::Ptr<EVP_PKEY>(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

ossl::Ptr<EVP_PKEY> pem_pubkey(const std::string& pem) {
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return ossl::Ptr<EVP_PKEY>(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

tokens::OpenOptions options_for(const Swtpm& tpm, const std::string& pin_source = "") {
  tokens::OpenOptions o;
  o.tcti = tpm.tcti();
  o.pin_source = pin_source;
  return o;
}

// The tpm2 key store, through the registry as every caller gets it.
std::shared_ptr<tokens::KeyStore> open_tpm2(const tokens::OpenOptions& options) {
  auto store = tokens::open_store("tpm2:file=/unused", options);
  if (!store) throw std::runtime_error(store.error().message);
  return *store;
}

std::shared_ptr<tokens::KeyStore> open_tpm2(const Swtpm& tpm, const std::string& pin = "") {
  return open_tpm2(options_for(tpm, pin));
}

tokens::KeyInfo create(tokens::KeyStore& store, const std::string& uri, KeyType type) {
  auto info = store.create_key({uri, type});
  if (!info) throw std::runtime_error("creating " + uri + ": " + info.error().message);
  return *info;
}

std::shared_ptr<tokens::Signer> signer_for(tokens::KeyStore& store, const std::string& uri) {
  auto signer = store.create_signer(uri);
  if (!signer) throw std::runtime_error("signer for " + uri + ": " + signer.error().message);
  return *signer;
}

std::vector<uint8_t> digest_of(const std::string& digest, const std::string& message) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  ossl::Ptr<EVP_MD> md(EVP_MD_fetch(nullptr, digest.c_str(), ossl::kDefaultProps));
  EXPECT_TRUE(md) << digest;
  EXPECT_EQ(EVP_Digest(message.data(), message.size(), out.data(), &len, md.get(), nullptr), 1);
  out.resize(len);
  return out;
}

struct Signed {
  std::vector<uint8_t> hash;
  Result<std::vector<uint8_t>> sig;
};

// Sign `message` hashed with `digest`; salt -1: the digest's length (what a TPM does).
Signed sign(tokens::Signer& signer, SigScheme scheme, const std::string& digest,
            const std::string& message, int salt = -1, const std::string& mgf1 = "") {
  Signed out;
  out.hash = digest_of(digest, message);
  tokens::SignRequest req;
  req.scheme = scheme;
  req.digest = digest;
  req.hash = out.hash;
  req.pss_salt_len = salt < 0 ? static_cast<int>(out.hash.size()) : salt;
  req.mgf1_digest = mgf1;
  out.sig = signer.sign(req);
  return out;
}

// Verify with the public key in the default provider. PSS: the salt must be exactly
// `salt` bytes (-1: the digest's length), MGF1 over the message's hash.
bool verifies(EVP_PKEY* pub, SigScheme scheme, const std::string& digest,
              const std::vector<uint8_t>& hash, const std::vector<uint8_t>& sig, int salt = -1) {
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub, ossl::kDefaultProps));
  ossl::Ptr<EVP_MD> md(EVP_MD_fetch(nullptr, digest.c_str(), ossl::kDefaultProps));
  bool ok = ctx && md && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), md.get()) == 1;
  if (ok && scheme != SigScheme::ecdsa) {
    ok = EVP_PKEY_CTX_set_rsa_padding(
             ctx.get(), scheme == SigScheme::rsa_pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) ==
         1;
  }
  if (ok && scheme == SigScheme::rsa_pss) {
    ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(),
                                          salt < 0 ? static_cast<int>(hash.size()) : salt) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md.get()) == 1;
  }
  ok = ok && EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), hash.data(), hash.size()) == 1;
  ERR_clear_error();
  return ok;
}

// Sign and check the signature verifies (and a flipped bit does not).
void expect_signs(tokens::Signer& signer, EVP_PKEY* pub, SigScheme scheme,
                  const std::string& digest, const std::string& what = "") {
  SCOPED_TRACE(digest + (scheme == SigScheme::rsa_pss ? " PSS" : "") + " " + what);
  const std::string message = "signed in a TPM: " + digest + " " + what;
  Signed s = sign(signer, scheme, digest, message);
  ASSERT_TRUE(s.sig) << s.sig.error().message;
  EXPECT_TRUE(verifies(pub, scheme, digest, s.hash, *s.sig));
  std::vector<uint8_t> bad = *s.sig;
  bad[bad.size() / 2] ^= 0x01;
  EXPECT_FALSE(verifies(pub, scheme, digest, s.hash, bad));
}

std::vector<std::pair<SigScheme, std::string>> schemes_for(KeyType type) {
  std::vector<std::pair<SigScheme, std::string>> out;
  for (const char* d : {"SHA256", "SHA384", "SHA512"}) {
    if (tokens::is_rsa(type)) {
      out.emplace_back(SigScheme::rsa_pkcs1, d);
      out.emplace_back(SigScheme::rsa_pss, d);
    } else {
      out.emplace_back(SigScheme::ecdsa, d);
    }
  }
  return out;
}

// The error of using a key: of opening its signer (which loads a file key), else of its
// first signature; nullopt when both succeed.
std::optional<Error> first_error(tokens::KeyStore& store, const std::string& uri) {
  auto signer = store.create_signer(uri);
  if (!signer) return signer.error();
  Signed s = sign(**signer, SigScheme::ecdsa, "SHA256", "first use");
  if (!s.sig) return s.sig.error();
  return std::nullopt;
}

// --- the TPM's own view, through ESYS on hwca's context ------------------------------

std::shared_ptr<TpmContext> context_of(const Swtpm& tpm) {
  auto ctx = TpmContext::open({tpm.tcti(), "--tcti"});
  if (!ctx) throw std::runtime_error(ctx.error().message);
  return *ctx;
}

// TPM2_PT_LOCKOUT_COUNTER: how many wrong passwords the TPM has counted.
uint32_t lockout_counter(const Swtpm& tpm) {
  return context_of(tpm)->with([](ESYS_CONTEXT* esys) -> uint32_t {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* data = nullptr;
    TSS2_RC rc =
        Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                           TPM2_PT_LOCKOUT_COUNTER, 1, &more, &data);
    tokens::tpm2::EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
    EXPECT_EQ(rc, TSS2_RC_SUCCESS);
    if (rc != TSS2_RC_SUCCESS || data->data.tpmProperties.count == 0 ||
        data->data.tpmProperties.tpmProperty[0].property != TPM2_PT_LOCKOUT_COUNTER) {
      ADD_FAILURE() << "no TPM2_PT_LOCKOUT_COUNTER";
      return 9999;
    }
    return data->data.tpmProperties.tpmProperty[0].value;
  });
}

// The transient objects loaded in the TPM now (TPM2_CAP_HANDLES from TPM2_TRANSIENT_FIRST).
std::vector<TPM2_HANDLE> transient_objects(const std::shared_ptr<TpmContext>& ctx) {
  return ctx->with([](ESYS_CONTEXT* esys) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* data = nullptr;
    TSS2_RC rc =
        Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                           TPM2_TRANSIENT_FIRST, TPM2_MAX_CAP_HANDLES, &more, &data);
    tokens::tpm2::EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
    EXPECT_EQ(rc, TSS2_RC_SUCCESS);
    std::vector<TPM2_HANDLE> out;
    if (rc != TSS2_RC_SUCCESS) return out;
    for (uint32_t i = 0; i < data->data.handles.count; ++i) {
      TPM2_HANDLE h = data->data.handles.handle[i];
      if ((h & TPM2_HR_RANGE_MASK) == TPM2_HR_TRANSIENT) out.push_back(h);
    }
    return out;
  });
}

// The names in a folder, without . and ..
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// --- one swtpm for the suite ---------------------------------------------------------------

class Tpm2Store : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tpm_ = new Swtpm(); }
  static void TearDownTestSuite() {
    TpmContext::close_all();
    delete tpm_;
    tpm_ = nullptr;
  }
  void TearDown() override { TpmContext::close_all(); }

  static Swtpm* tpm_;
  TempDir dir_{"hwca-tpm2"};
};
Swtpm* Tpm2Store::tpm_ = nullptr;

class Tpm2FileKey : public Tpm2Store, public ::testing::WithParamInterface<KeyType> {};

TEST_P(Tpm2FileKey, MadeSignsVerifiesAndLoadsInTpm2Tools) {
  const KeyType type = GetParam();
  const std::string path = dir_.file("key.pem");
  auto store = open_tpm2(*tpm_);
  tokens::KeyInfo info = create(*store, "tpm2:file=" + path, type);
  EXPECT_EQ(info.uri, "tpm2:file=" + path);
  EXPECT_EQ(info.label, path);
  EXPECT_EQ(info.type, tokens::key_type_name(type));
  ASSERT_EQ(info.id_hex.size(), 68u) << info.id_hex;
  EXPECT_EQ(info.id_hex.substr(0, 4), "000b");

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(text_of(path).rfind("-----BEGIN TSS2 PRIVATE KEY-----\n", 0), 0u);
  auto file = tokens::tpm2::read_key_file(path);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_TRUE(file->empty_auth);
  EXPECT_EQ(file->parent, 0x40000001u);
  // The signing-key attributes, and noDA: a key without a password has nothing to guess.
  EXPECT_EQ(file->pub.publicArea.objectAttributes, 0x00040072u | 0x400u);

  // tpm2-tools loads the key under its own SRK (tpm2_load -r of a PEM file fails in
  // tpm2-tools 5.4 even for its own tpm2_encodeobject files: the blobs are given apart):
  // the same Name, and the public key as the TPM holds it.
  ASSERT_TRUE(split_key_file(path, tpm_->dir() + "/key.pub", tpm_->dir() + "/key.priv"));
  std::string out = tools(
      *tpm_,
      {"tpm2_createprimary -C o " + kSrkTemplate + " -c srk.ctx >/dev/null", "tpm2_flushcontext -t",
       "tpm2_load -C srk.ctx -u key.pub -r key.priv -c key.ctx",  // prints the name
       "tpm2_flushcontext -t", "tpm2_readpublic -c key.ctx -f pem -o key.pub.pem >/dev/null",
       "tpm2_flushcontext -t"});
  EXPECT_EQ(yaml_value(out, "name"), info.id_hex) << out;
  ossl::Ptr<EVP_PKEY> tools_pub = read_pem_pubkey(tpm_->dir() + "/key.pub.pem");
  ASSERT_TRUE(tools_pub) << out;

  auto signer = signer_for(*store, info.uri);
  EXPECT_EQ(signer->describe(), info.uri);
  EXPECT_EQ(EVP_PKEY_eq(signer->public_key(), tools_pub.get()), 1);
  auto pub = store->get_public_key(info.uri);
  ASSERT_TRUE(pub) << pub.error().message;
  EXPECT_EQ(EVP_PKEY_eq(pub->get(), tools_pub.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_bits(tools_pub.get()), tokens::key_bits(type));

  for (const auto& [scheme, digest] : schemes_for(type)) {
    expect_signs(*signer, tools_pub.get(), scheme, digest);
  }

  auto* inspector = dynamic_cast<tokens::KeyInspector*>(store.get());
  ASSERT_NE(inspector, nullptr);
  auto attrs = inspector->inspect_key(info.uri);
  ASSERT_TRUE(attrs) << attrs.error().message;
  EXPECT_EQ(attrs->key.uri, info.uri);
  EXPECT_EQ(attrs->key.type, tokens::key_type_name(type));
  EXPECT_EQ(attrs->key.id_hex, info.id_hex);
  EXPECT_EQ(attrs->bits, tokens::key_bits(type));
  std::vector<std::pair<std::string, bool>> want = {
      {"fixedTPM", true},     {"stClear", false},
      {"fixedParent", true},  {"sensitiveDataOrigin", true},
      {"userWithAuth", true}, {"adminWithPolicy", false},
      {"noDA", true},         {"encryptedDuplication", false},
      {"restricted", false},  {"decrypt", false},
      {"sign", true},         {"password", false},
      {"persistent", false}};
  EXPECT_EQ(attrs->flags, want);
  ossl::Ptr<EVP_PKEY> shown = pem_pubkey(attrs->public_pem);
  ASSERT_TRUE(shown);
  EXPECT_EQ(EVP_PKEY_eq(shown.get(), tools_pub.get()), 1);

  signer.reset();
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");

  // tpm2-openssl (another TSS2 PRIVATE KEY reader) signs with the file hwca wrote.
  std::ofstream(tpm_->dir() + "/msg") << "signed by tpm2-openssl";
  tools(*tpm_, {"export TPM2OPENSSL_TCTI=\"$TPM2TOOLS_TCTI\"",
                "openssl pkeyutl -provider tpm2 -provider default -propquery '?provider=tpm2' "
                "-sign -inkey '" +
                    path + "' -rawin -digest sha256 -in msg -out msg.sig",
                "tpm2_flushcontext -t"});
  std::string msg = text_of(tpm_->dir() + "/msg"), sig = text_of(tpm_->dir() + "/msg.sig");
  ASSERT_FALSE(sig.empty());
  ossl::Ptr<EVP_MD_CTX> vctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* vp = nullptr;
  ASSERT_EQ(EVP_DigestVerifyInit_ex(vctx.get(), &vp, "SHA256", nullptr, ossl::kDefaultProps,
                                    tools_pub.get(), nullptr),
            1);
  EXPECT_EQ(
      EVP_DigestVerify(vctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()),
      1)
      << "tpm2-openssl's signature with hwca's key file does not verify";
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

INSTANTIATE_TEST_SUITE_P(Types, Tpm2FileKey,
                         ::testing::Values(KeyType::ec_p256, KeyType::ec_p384, KeyType::rsa_2048,
                                           KeyType::rsa_3072),
                         [](const ::testing::TestParamInfo<KeyType>& p) {
                           std::string n = tokens::key_type_name(p.param);
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST_F(Tpm2Store, PssSaltIsTheDigestLengthAndOtherSaltsOrMgf1HashesAreRefused) {
  auto store = open_tpm2(*tpm_);
  std::string uri = create(*store, "tpm2:file=" + dir_.file("rsa.pem"), KeyType::rsa_2048).uri;
  auto signer = signer_for(*store, uri);
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    SCOPED_TRACE(digest);
    Signed s = sign(*signer, SigScheme::rsa_pss, digest, "pss");
    ASSERT_TRUE(s.sig) << s.sig.error().message;
    int len = static_cast<int>(s.hash.size());
    EXPECT_TRUE(verifies(signer->public_key(), SigScheme::rsa_pss, digest, s.hash, *s.sig, len));
    // The check above can fail: with another expected salt length it does.
    EXPECT_FALSE(verifies(signer->public_key(), SigScheme::rsa_pss, digest, s.hash, *s.sig, 0));
    EXPECT_FALSE(
        verifies(signer->public_key(), SigScheme::rsa_pss, digest, s.hash, *s.sig, len + 1));

    for (int salt : {0, 20, len - 1, len + 1, 2048 / 8 - len - 2}) {
      Signed r = sign(*signer, SigScheme::rsa_pss, digest, "pss", salt);
      ASSERT_FALSE(r.sig) << "salt " << salt << " accepted";
      EXPECT_EQ(r.sig.error().kind, ErrorKind::usage) << r.sig.error().message;
      EXPECT_NE(r.sig.error().message.find("salt"), std::string::npos) << r.sig.error().message;
    }
    for (const char* mgf1 : {"SHA256", "SHA384", "SHA512", "SHA1"}) {
      if (std::string(mgf1) == digest) continue;
      Signed r = sign(*signer, SigScheme::rsa_pss, digest, "pss", -1, mgf1);
      ASSERT_FALSE(r.sig) << "MGF1 " << mgf1 << " accepted";
      EXPECT_EQ(r.sig.error().kind, ErrorKind::usage) << r.sig.error().message;
      EXPECT_NE(r.sig.error().message.find("MGF1"), std::string::npos) << r.sig.error().message;
    }
    // MGF1 named explicitly as the message's hash is fine.
    Signed same = sign(*signer, SigScheme::rsa_pss, digest, "pss", -1, digest);
    ASSERT_TRUE(same.sig) << same.sig.error().message;
    EXPECT_TRUE(verifies(signer->public_key(), SigScheme::rsa_pss, digest, same.hash, *same.sig));
  }
}

TEST_F(Tpm2Store, DigestOfTheWrongSizeOrAlgorithmIsRefused) {
  auto store = open_tpm2(*tpm_);
  std::string uri = create(*store, "tpm2:file=" + dir_.file("ec.pem"), KeyType::ec_p256).uri;
  auto signer = signer_for(*store, uri);
  struct Case {
    const char* digest;
    size_t size;
  } cases[] = {{"SHA256", 20}, {"SHA256", 33}, {"SHA256", 0},    {"SHA384", 32}, {"SHA512", 48},
               {"SHA1", 20},   {"MD5", 16},    {"SHA3-256", 32}, {"SHA256", 64}, {"", 32}};
  for (const auto& c : cases) {
    std::vector<uint8_t> hash(c.size, 0x42);
    tokens::SignRequest req;
    req.scheme = SigScheme::ecdsa;
    req.digest = c.digest;
    req.hash = hash;
    auto sig = signer->sign(req);
    ASSERT_FALSE(sig) << c.digest << " with " << c.size << " bytes was signed";
    EXPECT_EQ(sig.error().kind, ErrorKind::usage) << sig.error().message;
  }
  // And the key still signs a right one.
  expect_signs(*signer, signer->public_key(), SigScheme::ecdsa, "SHA256");
}

TEST_F(Tpm2Store, Rsa4096IsRefusedAndNothingIsWritten) {
  auto store = open_tpm2(*tpm_);
  std::string path = dir_.file("big.pem");
  auto info = store->create_key({"tpm2:file=" + path, KeyType::rsa_4096});
  ASSERT_FALSE(info) << "rsa-4096 made on a swtpm";
  EXPECT_EQ(info.error().kind, ErrorKind::usage) << info.error().message;
  EXPECT_NE(info.error().message.find("rsa-4096"), std::string::npos) << info.error().message;
  EXPECT_EQ(info.error().message.find('\n'), std::string::npos);
  EXPECT_FALSE(file_exists(path));
  EXPECT_TRUE(entries(dir_.path()).empty()) << "a file was left in the key folder";
  auto at_handle = store->create_key({"tpm2:handle=0x81000030", KeyType::rsa_4096});
  ASSERT_FALSE(at_handle);
  EXPECT_EQ(at_handle.error().kind, ErrorKind::usage) << at_handle.error().message;
  std::string persistent = tools(*tpm_, {"tpm2_getcap handles-persistent"});
  EXPECT_EQ(persistent.find("0x81000030"), std::string::npos) << persistent;
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

TEST_F(Tpm2Store, AnExistingFileIsAConflictAndIsLeftUntouched) {
  auto store = open_tpm2(*tpm_);
  // Something that is not a key.
  std::string other = dir_.file("notes.pem");
  std::ofstream(other) << "precious\n";
  auto over_other = store->create_key({"tpm2:file=" + other, KeyType::ec_p256});
  ASSERT_FALSE(over_other);
  EXPECT_EQ(over_other.error().kind, ErrorKind::conflict) << over_other.error().message;
  EXPECT_NE(over_other.error().message.find(other), std::string::npos);
  EXPECT_EQ(text_of(other), "precious\n");

  // A key file: the key in it must not be lost.
  std::string path = dir_.file("key.pem");
  std::string uri = create(*store, "tpm2:file=" + path, KeyType::ec_p256).uri;
  std::string before = text_of(path);
  auto signer = signer_for(*store, uri);
  ossl::Ptr<EVP_PKEY> pub_before(EVP_PKEY_dup(signer->public_key()));
  for (KeyType type : {KeyType::ec_p256, KeyType::rsa_2048}) {
    auto again = store->create_key({"tpm2:file=" + path, type});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::conflict) << again.error().message;
  }
  EXPECT_EQ(text_of(path), before);
  auto still = signer_for(*store, uri);
  EXPECT_EQ(EVP_PKEY_eq(still->public_key(), pub_before.get()), 1);
  expect_signs(*still, pub_before.get(), SigScheme::ecdsa, "SHA256");

  // A dangling symbolic link is something too.
  std::string link = dir_.file("link.pem");
  ASSERT_EQ(::symlink(dir_.file("nowhere.pem").c_str(), link.c_str()), 0);
  auto over_link = store->create_key({"tpm2:file=" + link, KeyType::ec_p256});
  ASSERT_FALSE(over_link);
  EXPECT_EQ(over_link.error().kind, ErrorKind::conflict) << over_link.error().message;
  EXPECT_FALSE(file_exists(dir_.file("nowhere.pem")));
}

TEST_F(Tpm2Store, HandleKeysArePersistentSignAndASecondCreateConflicts) {
  auto store = open_tpm2(*tpm_);
  tokens::KeyInfo ec = create(*store, "tpm2:handle=0x81000010", KeyType::ec_p256);
  EXPECT_EQ(ec.uri, "tpm2:handle=0x81000010");
  EXPECT_EQ(ec.label, "0x81000010");
  EXPECT_EQ(ec.type, "ec-p256");
  tokens::KeyInfo rsa = create(*store, "tpm2:handle=81000011", KeyType::rsa_2048);
  EXPECT_EQ(rsa.uri, "tpm2:handle=0x81000011");

  // What tpm2-tools reads at those handles.
  std::string out = tools(*tpm_, {"tpm2_readpublic -c 0x81000010 -f pem -o ec.pem",
                                  "tpm2_readpublic -c 0x81000011 -f pem -o rsa.pem > rsa.yaml",
                                  "tpm2_getcap handles-persistent"});
  EXPECT_NE(out.find("0x81000010"), std::string::npos) << out;
  EXPECT_NE(out.find("0x81000011"), std::string::npos) << out;
  EXPECT_EQ(yaml_value(out, "name"), ec.id_hex) << out;
  EXPECT_EQ(yaml_value(text_of(tpm_->dir() + "/rsa.yaml"), "name"), rsa.id_hex);
  ossl::Ptr<EVP_PKEY> ec_pub = read_pem_pubkey(tpm_->dir() + "/ec.pem");
  ossl::Ptr<EVP_PKEY> rsa_pub = read_pem_pubkey(tpm_->dir() + "/rsa.pem");
  ASSERT_TRUE(ec_pub && rsa_pub);

  {
    auto ec_signer = signer_for(*store, ec.uri);
    EXPECT_EQ(EVP_PKEY_eq(ec_signer->public_key(), ec_pub.get()), 1);
    for (const auto& [scheme, digest] : schemes_for(KeyType::ec_p256)) {
      expect_signs(*ec_signer, ec_pub.get(), scheme, digest);
    }
    auto rsa_signer = signer_for(*store, "tpm2:handle=0x81000011;type=private");
    for (const auto& [scheme, digest] : schemes_for(KeyType::rsa_2048)) {
      expect_signs(*rsa_signer, rsa_pub.get(), scheme, digest);
    }
    auto pub = store->get_public_key(ec.uri);
    ASSERT_TRUE(pub) << pub.error().message;
    EXPECT_EQ(EVP_PKEY_eq(pub->get(), ec_pub.get()), 1);

    auto* inspector = dynamic_cast<tokens::KeyInspector*>(store.get());
    ASSERT_NE(inspector, nullptr);
    auto attrs = inspector->inspect_key(ec.uri);
    ASSERT_TRUE(attrs) << attrs.error().message;
    EXPECT_EQ(attrs->key.id_hex, ec.id_hex);
    EXPECT_EQ(attrs->bits, 256);
    bool persistent = false, found = false;
    for (const auto& [name, on] : attrs->flags) {
      if (name == "persistent") {
        found = true;
        persistent = on;
      }
      if (name == "sign" || name == "fixedTPM") {
        EXPECT_TRUE(on) << name;
      }
    }
    EXPECT_TRUE(found && persistent) << "inspect does not say persistent";

    // A second key at a handle in use: conflict, and the first key is still there.
    for (KeyType type : {KeyType::ec_p256, KeyType::rsa_2048}) {
      auto again = store->create_key({"tpm2:handle=0x81000010", type});
      ASSERT_FALSE(again) << "a second key made at 0x81000010";
      EXPECT_EQ(again.error().kind, ErrorKind::conflict) << again.error().message;
      EXPECT_NE(again.error().message.find("0x81000010"), std::string::npos);
    }
    auto still = signer_for(*store, ec.uri);
    EXPECT_EQ(EVP_PKEY_eq(still->public_key(), ec_pub.get()), 1);
    expect_signs(*still, ec_pub.get(), SigScheme::ecdsa, "SHA256", "after the conflict");

    // Nothing at a handle: not found.
    auto none = store->create_signer("tpm2:handle=0x81000099");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().kind, ErrorKind::not_found) << none.error().message;
    EXPECT_NE(none.error().message.find("0x81000099"), std::string::npos);
    // A URI naming the public half only is no signing key.
    auto pub_only = store->create_signer("tpm2:handle=0x81000010;type=public");
    ASSERT_FALSE(pub_only);
    EXPECT_EQ(pub_only.error().kind, ErrorKind::usage);
  }
  // The same objects are still at their handles; nothing transient is left (the key
  // loaded to be made persistent was flushed).
  out = tools(*tpm_, {"tpm2_readpublic -c 0x81000010", "tpm2_getcap handles-transient"});
  EXPECT_EQ(yaml_value(out, "name"), ec.id_hex) << out;
  EXPECT_EQ(out.find("0x80"), std::string::npos) << out;
  // Leave the handles free for any other test on this TPM.
  tools(*tpm_, {"tpm2_evictcontrol -C o -c 0x81000010 >/dev/null",
                "tpm2_evictcontrol -C o -c 0x81000011 >/dev/null"});
}

TEST_F(Tpm2Store, ReservedHandlesAreRefusedBeforeAnythingIsMade) {
  auto store = open_tpm2(*tpm_);
  for (const char* uri : {"tpm2:handle=0x81000001", "tpm2:handle=0x81010001",
                          "tpm2:handle=0x81800000", "tpm2:handle=0x81000010;type=private"}) {
    auto info = store->create_key({uri, KeyType::ec_p256});
    ASSERT_FALSE(info) << uri;
    EXPECT_EQ(info.error().kind, ErrorKind::usage) << uri << ": " << info.error().message;
  }
  std::string out = tools(*tpm_, {"tpm2_getcap handles-persistent"});
  EXPECT_EQ(out.find("0x81000010"), std::string::npos) << out;
  EXPECT_EQ(out.find("0x81800000"), std::string::npos) << out;
}

TEST_F(Tpm2Store, FileKeyWithoutPasswordIgnoresAGivenPinSource) {
  ScopedEnv bad_pw_env(kBadPwEnv, "not the key's password");
  auto store = open_tpm2(*tpm_);
  std::string path = dir_.file("nopw.pem");
  create(*store, "tpm2:file=" + path, KeyType::ec_p256);
  uint32_t before = lockout_counter(*tpm_);
  // A source that would give a password, and one that cannot be read at all: neither is
  // read nor sent, since the file says the key has none.
  auto with_option = open_tpm2(*tpm_, std::string("env:") + kBadPwEnv);
  auto s1 = signer_for(*with_option, "tpm2:file=" + path);
  expect_signs(*s1, s1->public_key(), SigScheme::ecdsa, "SHA256", "--pin-source");
  auto s2 = signer_for(*store, "tpm2:file=" + path + "?pin-source=env:HWCA_IT_NO_SUCH_VARIABLE");
  expect_signs(*s2, s2->public_key(), SigScheme::ecdsa, "SHA384", "URI pin-source");
  auto s3 = signer_for(*store, "tpm2:file=" + path + "?pin-source=file:/nonexistent/pw");
  expect_signs(*s3, s3->public_key(), SigScheme::ecdsa, "SHA512", "URI pin-source file");
  EXPECT_EQ(lockout_counter(*tpm_), before) << "a password was sent to a key without one";
}

TEST_F(Tpm2Store, AKeyFileFromAnotherTpmIsRefusedAsNotBelonging) {
  std::string path = dir_.file("foreign.pem");
  {
    Swtpm other;
    auto store = open_tpm2(other);
    create(*store, "tpm2:file=" + path, KeyType::ec_p256);
    TpmContext::close_all();
  }
  auto store = open_tpm2(*tpm_);
  // The file itself is fine: its public half is known without the TPM.
  auto pub = store->get_public_key("tpm2:file=" + path);
  ASSERT_TRUE(pub) << pub.error().message;
  // Refused when the key is first loaded (opening its signer loads it).
  for (int i = 0; i < 2; ++i) {
    auto e = first_error(*store, "tpm2:file=" + path);
    ASSERT_TRUE(e) << "a key from another TPM signed";
    EXPECT_EQ(e->kind, ErrorKind::usage) << e->message;
    EXPECT_NE(e->message.find("TPM_RC_INTEGRITY"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find("does not belong"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find(path), std::string::npos) << e->message;
    EXPECT_EQ(e->message.find('\n'), std::string::npos);
  }
  auto* inspector = dynamic_cast<tokens::KeyInspector*>(store.get());
  ASSERT_NE(inspector, nullptr);
  auto attrs = inspector->inspect_key("tpm2:file=" + path);
  ASSERT_FALSE(attrs);
  EXPECT_EQ(attrs.error().kind, ErrorKind::usage) << attrs.error().message;
  EXPECT_NE(attrs.error().message.find("TPM_RC_INTEGRITY"), std::string::npos)
      << attrs.error().message;
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

// A file that names another parent than the owner SRK (a persistent parent key, as
// tpm2-tools can make) is refused before the TPM is asked to load anything.
TEST_F(Tpm2Store, AKeyFileWithAnotherParentIsRefusedBeforeLoading) {
  auto store = open_tpm2(*tpm_);
  std::string made = dir_.file("made.pem");
  create(*store, "tpm2:file=" + made, KeyType::ec_p256);
  auto file = tokens::tpm2::read_key_file(made);
  ASSERT_TRUE(file) << file.error().message;
  file->parent = 0x81000005;
  std::string other = dir_.file("other-parent.pem");
  ASSERT_TRUE(tokens::tpm2::write_key_file(other, *file));
  auto e = first_error(*store, "tpm2:file=" + other);
  ASSERT_TRUE(e) << "a key naming another parent signed";
  EXPECT_EQ(e->kind, ErrorKind::usage) << e->message;
  EXPECT_NE(e->message.find("parent 0x81000005"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("0x40000001"), std::string::npos) << e->message;
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

TEST_F(Tpm2Store, SixKeysShareThreeSlotsByEvictionAndLeaveNothingLoaded) {
  auto store = open_tpm2(*tpm_);
  std::vector<std::string> uris;
  for (int i = 0; i < 6; ++i) {
    uris.push_back(create(*store, "tpm2:file=" + dir_.file("k" + std::to_string(i) + ".pem"),
                          i % 3 == 2 ? KeyType::rsa_2048 : KeyType::ec_p256)
                       .uri);
  }
  auto ctx = context_of(*tpm_);
  EXPECT_TRUE(transient_objects(ctx).empty()) << "creating keys left objects loaded";
  std::vector<std::shared_ptr<tokens::Signer>> signers;
  for (const auto& uri : uris) signers.push_back(signer_for(*store, uri));
  size_t most = 0;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < signers.size(); ++i) {
      SigScheme scheme = i % 3 == 2 ? SigScheme::rsa_pkcs1 : SigScheme::ecdsa;
      expect_signs(*signers[i], signers[i]->public_key(), scheme, "SHA256",
                   "key " + std::to_string(i) + " round " + std::to_string(round));
      size_t loaded = transient_objects(ctx).size();
      EXPECT_LE(loaded, 3u);
      EXPECT_GE(loaded, 1u) << "the key just used is not loaded";
      most = std::max(most, loaded);
    }
  }
  // The SRK needs a slot whenever a key is loaded: two keys stay loaded, three at most.
  EXPECT_GE(most, 2u) << "keys were flushed although there was room";
  signers.clear();
  EXPECT_TRUE(transient_objects(ctx).empty()) << "dropped keys left objects loaded";
  ctx.reset();
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

// Signatures from several threads on `keys` signers: each thread signs `per_thread` times,
// round-robin over the keys, and verifies every signature. Returns the failures.
std::vector<std::string> sign_from_threads(const std::vector<std::shared_ptr<tokens::Signer>>& keys,
                                           int threads, int per_thread) {
  std::vector<std::vector<std::string>> failures(threads);
  std::atomic<int> made{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto& signer = *keys[(t + i) % keys.size()];
        bool rsa = EVP_PKEY_is_a(signer.public_key(), "RSA") == 1;
        SigScheme scheme = !rsa         ? SigScheme::ecdsa
                           : i % 2 == 0 ? SigScheme::rsa_pss
                                        : SigScheme::rsa_pkcs1;
        const char* digest = i % 3 == 0 ? "SHA256" : i % 3 == 1 ? "SHA384" : "SHA512";
        std::string message = "thread " + std::to_string(t) + " signature " + std::to_string(i);
        Signed s = sign(signer, scheme, digest, message);
        if (!s.sig) {
          failures[t].push_back(message + ": " + s.sig.error().message);
        } else if (!verifies(signer.public_key(), scheme, digest, s.hash, *s.sig)) {
          failures[t].push_back(message + ": does not verify");
        } else {
          ++made;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  std::vector<std::string> all;
  for (auto& f : failures) all.insert(all.end(), f.begin(), f.end());
  EXPECT_EQ(made.load() + static_cast<int>(all.size()), threads * per_thread);
  return all;
}

TEST_F(Tpm2Store, FourThreadsSignOnTwoKeys) {
  auto store = open_tpm2(*tpm_);
  std::vector<std::shared_ptr<tokens::Signer>> keys = {
      signer_for(*store, create(*store, "tpm2:file=" + dir_.file("ec.pem"), KeyType::ec_p256).uri),
      signer_for(*store,
                 create(*store, "tpm2:file=" + dir_.file("rsa.pem"), KeyType::rsa_2048).uri)};
  auto failures = sign_from_threads(keys, 4, 25);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  keys.clear();
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

TEST_F(Tpm2Store, FourThreadsSignOnFiveKeysWhileTheyAreEvicted) {
  auto store = open_tpm2(*tpm_);
  std::vector<std::string> uris;
  for (int i = 0; i < 5; ++i) {
    uris.push_back(create(*store, "tpm2:file=" + dir_.file("k" + std::to_string(i) + ".pem"),
                          i == 4 ? KeyType::rsa_2048 : KeyType::ec_p256)
                       .uri);
  }
  std::vector<std::shared_ptr<tokens::Signer>> keys;
  for (const auto& uri : uris) keys.push_back(signer_for(*store, uri));
  auto failures = sign_from_threads(keys, 4, 25);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  keys.clear();
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

TEST_F(Tpm2Store, KeysAreMadeWhileThisProcessKeepsOthersLoaded) {
  // A long-running CA holds its keys loaded (two on a swtpm: the SRK needs the third
  // slot) and may be asked to make another: TPM2_Create needs a free object slot too.
  auto store = open_tpm2(*tpm_);
  std::vector<std::shared_ptr<tokens::Signer>> held;
  for (int i = 0; i < 2; ++i) {
    std::string uri = create(*store, "tpm2:file=" + dir_.file("held" + std::to_string(i) + ".pem"),
                             KeyType::ec_p256)
                          .uri;
    held.push_back(signer_for(*store, uri));
    expect_signs(*held.back(), held.back()->public_key(), SigScheme::ecdsa, "SHA256");
  }
  EXPECT_EQ(transient_objects(context_of(*tpm_)).size(), 2u);
  for (const char* name : {"new.pem", "new2.pem"}) {
    auto made = store->create_key({"tpm2:file=" + dir_.file(name), KeyType::ec_p256});
    EXPECT_TRUE(made) << "with two keys loaded: " << made.error().message;
  }
  auto at_handle = store->create_key({"tpm2:handle=0x81000013", KeyType::ec_p256});
  EXPECT_TRUE(at_handle) << "with two keys loaded: " << at_handle.error().message;
  // The keys held still sign (loaded again if they had to make room).
  for (auto& h : held) expect_signs(*h, h->public_key(), SigScheme::ecdsa, "SHA384", "held");
  held.clear();
  if (at_handle) tools(*tpm_, {"tpm2_evictcontrol -C o -c 0x81000013 >/dev/null"});
  EXPECT_EQ(tools(*tpm_, {"tpm2_getcap handles-transient"}), "");
}

TEST_F(Tpm2Store, TheTpmComesFromHwcaTctiUnlessOneIsGiven) {
  // OpenOptions.tcti empty: HWCA_TCTI.
  ScopedEnv tcti_env("HWCA_TCTI", tpm_->tcti());
  tokens::OpenOptions from_env;
  auto store = open_tpm2(from_env);
  auto info = store->create_key({"tpm2:file=" + dir_.file("env.pem"), KeyType::ec_p256});
  ASSERT_TRUE(info) << info.error().message;
  auto signer = store->create_signer(info->uri);
  ASSERT_TRUE(signer) << signer.error().message;
  expect_signs(**signer, (*signer)->public_key(), SigScheme::ecdsa, "SHA256", "HWCA_TCTI");
  signer->reset();
  TpmContext::close_all();
  // A TCTI given explicitly wins over HWCA_TCTI (which now names no TPM).
  tcti_env.set("swtpm:host=127.0.0.1,port=1");
  auto given = open_tpm2(*tpm_);
  auto again = given->create_signer(info->uri);
  ASSERT_TRUE(again) << again.error().message;
  expect_signs(**again, (*again)->public_key(), SigScheme::ecdsa, "SHA256", "--tcti");
  again->reset();
  TpmContext::close_all();
  // And with HWCA_TCTI naming no TPM, the error says where the TCTI came from.
  auto unreachable = open_tpm2(from_env)->create_signer(info->uri);
  ASSERT_FALSE(unreachable) << "a key opened through a TCTI that reaches no TPM";
  EXPECT_EQ(unreachable.error().kind, ErrorKind::device) << unreachable.error().message;
  EXPECT_NE(unreachable.error().message.find("(from HWCA_TCTI)"), std::string::npos)
      << unreachable.error().message;
}

// --- TPMs of their own: wrong passwords, full object memory, a TPM that goes away -----

TEST(Tpm2Password, RightPasswordSignsAWrongOneFailsOnceWithoutHammeringTheTpm) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  ScopedEnv pw_env(kPwEnv, "correct horse battery");
  ScopedEnv bad_pw_env(kBadPwEnv, "wrong horse");
  std::string path = dir.file("pw.pem");
  std::string uri = "tpm2:file=" + path;
  auto store = open_tpm2(tpm);
  create(*store, uri + "?pin-source=env:" + kPwEnv, KeyType::ec_p256);
  auto file = tokens::tpm2::read_key_file(path);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_FALSE(file->empty_auth) << "the file does not say the key has a password";
  EXPECT_EQ(text_of(path).find("correct horse"), std::string::npos);

  auto* inspector = dynamic_cast<tokens::KeyInspector*>(store.get());
  ASSERT_NE(inspector, nullptr);
  auto attrs = inspector->inspect_key(uri);  // needs no password
  ASSERT_TRUE(attrs) << attrs.error().message;
  bool has_password = false;
  for (const auto& [name, on] : attrs->flags) {
    if (name == "password") has_password = on;
  }
  EXPECT_TRUE(has_password);

  EXPECT_EQ(lockout_counter(tpm), 0u);
  // The right password, from the URI and from --pin-source.
  auto good = signer_for(*store, uri + "?pin-source=env:" + kPwEnv);
  expect_signs(*good, good->public_key(), SigScheme::ecdsa, "SHA256", "URI password");
  auto good2 = signer_for(*open_tpm2(tpm, std::string("env:") + kPwEnv), uri);
  expect_signs(*good2, good2->public_key(), SigScheme::ecdsa, "SHA384", "--pin-source password");
  EXPECT_EQ(lockout_counter(tpm), 0u);

  // No password at all: refused before the TPM is asked.
  auto none = store->create_signer(uri);
  ASSERT_FALSE(none) << "a password key opened without a password";
  EXPECT_EQ(none.error().kind, ErrorKind::auth) << none.error().message;
  EXPECT_EQ(lockout_counter(tpm), 0u);

  // A wrong one: one failure counted by the TPM, then the same error without asking again.
  auto bad = signer_for(*open_tpm2(tpm, std::string("env:") + kBadPwEnv), uri);
  Signed first = sign(*bad, SigScheme::ecdsa, "SHA256", "wrong");
  ASSERT_FALSE(first.sig) << "signed with a wrong password";
  EXPECT_EQ(first.sig.error().kind, ErrorKind::auth) << first.sig.error().message;
  EXPECT_NE(first.sig.error().message.find("TPM_RC_AUTH_FAIL"), std::string::npos)
      << first.sig.error().message;
  EXPECT_NE(first.sig.error().message.find("2 more wrong password"), std::string::npos)
      << first.sig.error().message;
  EXPECT_EQ(first.sig.error().message.find("wrong horse"), std::string::npos);
  EXPECT_EQ(lockout_counter(tpm), 1u);
  for (int i = 0; i < 3; ++i) {
    Signed again = sign(*bad, SigScheme::ecdsa, "SHA256", "wrong again");
    ASSERT_FALSE(again.sig);
    EXPECT_EQ(again.sig.error().kind, ErrorKind::auth);
    EXPECT_EQ(again.sig.error().message, first.sig.error().message);
  }
  EXPECT_EQ(lockout_counter(tpm), 1u) << "the TPM was asked again with the wrong password";

  // A password longer than a key's auth value can be (32 bytes): refused before the TPM
  // is asked, and nothing overruns the TPM2B_AUTH it would go into.
  ScopedEnv long_env("HWCA_TEST_TPM_LONG_PW", std::string(100, 'x'));
  auto too_long = open_tpm2(tpm, "env:HWCA_TEST_TPM_LONG_PW")->create_signer(uri);
  ASSERT_FALSE(too_long) << "a 100-byte password was accepted";
  EXPECT_EQ(too_long.error().kind, ErrorKind::usage) << too_long.error().message;
  EXPECT_NE(too_long.error().message.find("at most 32 bytes"), std::string::npos)
      << too_long.error().message;
  EXPECT_EQ(lockout_counter(tpm), 1u);

  // The right password still works (one failure does not lock the TPM out).
  expect_signs(*good, good->public_key(), SigScheme::ecdsa, "SHA512", "after a wrong one");
  EXPECT_EQ(lockout_counter(tpm), 1u);

  // tpm2-tools sees the same counter.
  good.reset();
  good2.reset();
  bad.reset();
  std::string caps = tools(tpm, {"tpm2_getcap properties-variable"});
  EXPECT_NE(caps.find("TPM2_PT_LOCKOUT_COUNTER: 0x1\n"), std::string::npos) << caps;
}

TEST(Tpm2Password, HandleKeyTakesItsPasswordFromItsUriOnly) {
  Swtpm tpm;
  ScopedEnv pw_env(kPwEnv, "persistent secret");
  ScopedEnv bad_pw_env(kBadPwEnv, "guess");
  const std::string with_pw = std::string("?pin-source=env:") + kPwEnv;
  auto store = open_tpm2(tpm);
  std::string uri = create(*store, "tpm2:handle=0x81000012" + with_pw, KeyType::ec_p384).uri;
  EXPECT_EQ(uri, "tpm2:handle=0x81000012");  // the printed URI carries no pin-source
  auto good = signer_for(*store, uri + with_pw);
  expect_signs(*good, good->public_key(), SigScheme::ecdsa, "SHA384", "handle password");
  EXPECT_EQ(lockout_counter(tpm), 0u);

  // A persistent key cannot say it has a password, and --pin-source (maybe a token's PIN)
  // is not sent to it: without a pin-source in its URI it is used without a password, which
  // the TPM refuses and counts once; the signer does not ask again.
  auto option_only = signer_for(*open_tpm2(tpm, std::string("env:") + kPwEnv), uri);
  for (int i = 0; i < 2; ++i) {
    Signed s = sign(*option_only, SigScheme::ecdsa, "SHA384", "no password");
    ASSERT_FALSE(s.sig) << "--pin-source reached a persistent key";
    EXPECT_EQ(s.sig.error().kind, ErrorKind::auth) << s.sig.error().message;
  }
  EXPECT_EQ(lockout_counter(tpm), 1u);
  auto wrong = signer_for(*open_tpm2(tpm), uri + "?pin-source=env:" + kBadPwEnv);
  for (int i = 0; i < 2; ++i) {
    Signed s = sign(*wrong, SigScheme::ecdsa, "SHA384", "wrong");
    ASSERT_FALSE(s.sig);
    EXPECT_EQ(s.sig.error().kind, ErrorKind::auth) << s.sig.error().message;
    EXPECT_NE(s.sig.error().message.find("1 more wrong password"), std::string::npos)
        << s.sig.error().message;
  }
  EXPECT_EQ(lockout_counter(tpm), 2u);
  expect_signs(*good, good->public_key(), SigScheme::ecdsa, "SHA256", "still the right one");
  EXPECT_EQ(lockout_counter(tpm), 2u);
}

// docs/cli.md: "A key's password comes from pin-source= in the URI, else --pin-source".
TEST(Tpm2Password, TheUrisPinSourceComesBeforePinSourceOption) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  ScopedEnv pw_env(kPwEnv, "file key secret");
  ScopedEnv bad_pw_env(kBadPwEnv, "token pin");
  std::string uri = "tpm2:file=" + dir.file("k.pem");
  const std::string with_pw = std::string("?pin-source=env:") + kPwEnv;
  create(*open_tpm2(tpm), uri + with_pw, KeyType::ec_p256);
  auto signer = signer_for(*open_tpm2(tpm, std::string("env:") + kBadPwEnv), uri + with_pw);
  Signed s = sign(*signer, SigScheme::ecdsa, "SHA256", "which password");
  EXPECT_TRUE(s.sig) << "the URI's pin-source was not used: " << s.sig.error().message;
  EXPECT_EQ(lockout_counter(tpm), 0u);
}

// docs/cli.md: "A wrong password is tried once per process".
TEST(Tpm2Password, AWrongPasswordIsTriedOncePerProcess) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  ScopedEnv pw_env(kPwEnv, "file key secret");
  ScopedEnv bad_pw_env(kBadPwEnv, "typo");
  std::string uri = "tpm2:file=" + dir.file("k.pem");
  create(*open_tpm2(tpm), uri + "?pin-source=env:" + kPwEnv, KeyType::ec_p256);
  const std::string bad_uri = uri + "?pin-source=env:" + kBadPwEnv;
  // The same key opened twice with the same wrong password (a CA reloading its key, two
  // providers' loads, ...).
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto signer = signer_for(*open_tpm2(tpm), bad_uri);
    Signed s = sign(*signer, SigScheme::ecdsa, "SHA256", "wrong");
    ASSERT_FALSE(s.sig) << "signed with a wrong password";
    EXPECT_EQ(s.sig.error().kind, ErrorKind::auth) << s.sig.error().message;
  }
  EXPECT_EQ(lockout_counter(tpm), 1u) << "the TPM was given the same wrong password again";
}

TEST(Tpm2ObjectMemory, WithAPersistentSrkFileAndHandleKeysShareTheSlots) {
  // A provisioned TPM keeps its SRK at 0x81000001: hwca loads its file keys under it (no
  // transient SRK), and a persistent key takes a slot while it is used.
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  tools(tpm, {"tpm2_createprimary -C o " + kSrkTemplate + " -c srk.ctx >/dev/null",
              "tpm2_evictcontrol -C o -c srk.ctx 0x81000001 >/dev/null", "tpm2_flushcontext -t"});
  auto store = open_tpm2(tpm);
  std::vector<std::string> uris = {create(*store, "tpm2:handle=0x81000010", KeyType::ec_p256).uri};
  for (int i = 0; i < 4; ++i) {
    uris.push_back(
        create(*store, "tpm2:file=" + dir.file("k" + std::to_string(i) + ".pem"), KeyType::ec_p256)
            .uri);
  }
  std::vector<std::shared_ptr<tokens::Signer>> signers;
  for (const auto& uri : uris) signers.push_back(signer_for(*store, uri));
  auto ctx = context_of(tpm);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < signers.size(); ++i) {
      expect_signs(*signers[i], signers[i]->public_key(), SigScheme::ecdsa, "SHA256",
                   uris[i] + " round " + std::to_string(round));
      EXPECT_LE(transient_objects(ctx).size(), 3u);
    }
  }
  signers.clear();
  EXPECT_TRUE(transient_objects(ctx).empty());
  ctx.reset();
  std::string out = tools(tpm, {"tpm2_getcap handles-transient", "tpm2_getcap handles-persistent"});
  EXPECT_EQ(out.find("0x80"), std::string::npos) << out;
  EXPECT_NE(out.find("0x81000001"), std::string::npos) << "the provisioned SRK was evicted";
}

TEST(Tpm2ObjectMemory, SlotsFilledBySomeoneElseGiveADeviceErrorNamingIt) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  std::string uri;
  {
    auto store = open_tpm2(tpm);
    uri = create(*store, "tpm2:file=" + dir.file("k.pem"), KeyType::ec_p256).uri;
  }
  // Another program without a resource manager leaves objects loaded: all three slots, then
  // two (room for hwca's SRK but not for the key).
  for (int filled : {3, 2}) {
    SCOPED_TRACE(std::to_string(filled) + " slots taken");
    std::vector<std::string> commands = {"tpm2_flushcontext -t"};
    for (int i = 0; i < filled; ++i) {
      commands.push_back("tpm2_createprimary -C o -G ecc256 -c p" + std::to_string(i) +
                         ".ctx >/dev/null");
    }
    commands.push_back("tpm2_getcap handles-transient");
    std::string loaded = tools(tpm, commands);
    ASSERT_EQ(std::count(loaded.begin(), loaded.end(), '\n'), filled) << loaded;

    auto e = first_error(*open_tpm2(tpm), uri);
    ASSERT_TRUE(e) << "signed although the TPM had no room";
    EXPECT_EQ(e->kind, ErrorKind::device) << e->message;
    EXPECT_NE(e->message.find("TPM_RC_OBJECT_MEMORY"), std::string::npos) << e->message;
    EXPECT_EQ(e->message.find('\n'), std::string::npos);
    // hwca flushed nothing of the other program's, and left nothing of its own.
    loaded = tools(tpm, {"tpm2_getcap handles-transient"});
    EXPECT_EQ(std::count(loaded.begin(), loaded.end(), '\n'), filled) << loaded;
  }
  // Once the other program's objects are flushed, the key signs.
  tools(tpm, {"tpm2_flushcontext -t"});
  auto signer = signer_for(*open_tpm2(tpm), uri);
  expect_signs(*signer, signer->public_key(), SigScheme::ecdsa, "SHA256", "after the flush");
}

TEST(Tpm2Fault, StoppedTpmGivesOneDeviceErrorAndARestartedOneWorks) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  std::string uri;
  {
    auto store = open_tpm2(tpm);
    uri = create(*store, "tpm2:file=" + dir.file("k.pem"), KeyType::ec_p256).uri;
  }
  auto signer = signer_for(*open_tpm2(tpm), uri);
  expect_signs(*signer, signer->public_key(), SigScheme::ecdsa, "SHA256", "before the stop");
  std::string tcti = tpm.tcti();
  tpm.stop();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    Signed s = sign(*signer, SigScheme::ecdsa, "SHA256", "after the stop");
    ASSERT_FALSE(s.sig) << "signed with a stopped TPM";
    EXPECT_EQ(s.sig.error().kind, ErrorKind::device) << s.sig.error().message;
    EXPECT_EQ(s.sig.error().message.find('\n'), std::string::npos) << s.sig.error().message;
    EXPECT_NE(s.sig.error().message.find(tcti), std::string::npos) << s.sig.error().message;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // A new signer on the stopped TPM: a device error too.
  auto later = first_error(*open_tpm2(tpm), uri);
  ASSERT_TRUE(later) << "a key was used on a stopped TPM";
  EXPECT_EQ(later->kind, ErrorKind::device) << later->message;
  EXPECT_EQ(later->message.find('\n'), std::string::npos) << later->message;
  signer.reset();
  TpmContext::close_all();

  tpm.start();  // same state, new port
  auto restarted = signer_for(*open_tpm2(tpm), uri);
  expect_signs(*restarted, restarted->public_key(), SigScheme::ecdsa, "SHA256", "restarted");
  restarted.reset();
  EXPECT_EQ(tools(tpm, {"tpm2_getcap handles-transient"}), "");
}

// --- a TPM that goes away and comes back (issue 17, item 3) --------------------------

// Sign with `signer` until it succeeds or `limit` passes; the last result.
Signed sign_until_ok(tokens::Signer& signer, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  Signed s = sign(signer, SigScheme::ecdsa, "SHA256", "until ok");
  while (!s.sig && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s = sign(signer, SigScheme::ecdsa, "SHA256", "until ok");
  }
  return s;
}

// A file key and a persistent key, opened once, keep signing across two restarts of their
// swtpm on the same port (same state): the first signature after a restart that no call
// saw succeeds at once (it meets the broken connection, the context connects again, the
// signature is tried once more); while the TPM is down, signatures fail at once with a
// device error naming the TPM, never "not found"; once it is back they sign again without
// the store being opened again. Nothing stays loaded.
TEST(Tpm2Recovery, KeysSignAgainAfterTheirTpmRestartsWithoutReopeningTheStore) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  const std::string tcti = tpm.tcti();
  auto store = open_tpm2(tpm);
  const std::string file_uri =
      create(*store, "tpm2:file=" + dir.file("k.pem"), KeyType::ec_p256).uri;
  const std::string handle_uri = create(*store, "tpm2:handle=0x81000020", KeyType::ec_p256).uri;
  auto file_key = signer_for(*store, file_uri);
  auto handle_key = signer_for(*store, handle_uri);
  expect_signs(*file_key, file_key->public_key(), SigScheme::ecdsa, "SHA256", "first");
  expect_signs(*handle_key, handle_key->public_key(), SigScheme::ecdsa, "SHA256", "first");

  // Restarted between two signatures.
  tpm.stop();
  tpm.start_on_same_port();
  expect_signs(*file_key, file_key->public_key(), SigScheme::ecdsa, "SHA256", "restarted");
  expect_signs(*handle_key, handle_key->public_key(), SigScheme::ecdsa, "SHA256", "restarted");

  // Down for a while: fast device errors naming the TPM.
  tpm.stop();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) {
    tokens::Signer& signer = i % 2 == 0 ? *file_key : *handle_key;
    Signed s = sign(signer, SigScheme::ecdsa, "SHA256", "down");
    ASSERT_FALSE(s.sig) << "signed with a stopped TPM";
    const std::string& m = s.sig.error().message;
    EXPECT_EQ(s.sig.error().kind, ErrorKind::device) << m;
    EXPECT_NE(m.find("TPM '" + tcti + "'"), std::string::npos) << m;
    EXPECT_EQ(m.find("not found"), std::string::npos) << m;
    EXPECT_EQ(m.find("no key"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3))
      << "signatures on a stopped TPM did not fail at once";

  tpm.start_on_same_port();
  Signed back = sign_until_ok(*file_key, std::chrono::seconds(10));
  ASSERT_TRUE(back.sig) << back.sig.error().message;
  expect_signs(*file_key, file_key->public_key(), SigScheme::ecdsa, "SHA256", "back");
  expect_signs(*handle_key, handle_key->public_key(), SigScheme::ecdsa, "SHA256", "back");
  file_key.reset();
  handle_key.reset();
  store.reset();
  EXPECT_EQ(tools(tpm, {"tpm2_getcap handles-transient"}), "");
}

// A wrong password refused before the TPM restarted is not sent again after the context
// connected again: no command reaches the TPM for it, and the TPM counts no new failure.
// (The restart itself may count one: a TPM shut down without TPM2_Shutdown after a
// dictionary-attack-protected use counts a failure at its next start.)
TEST(Tpm2Recovery, ARejectedPasswordIsNotSentAgainAfterAReconnection) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  ScopedEnv pw_env(kPwEnv, "file key secret");
  ScopedEnv bad_pw_env(kBadPwEnv, "typo");
  auto store = open_tpm2(tpm);
  const std::string uri = "tpm2:file=" + dir.file("pw.pem");
  create(*store, uri + "?pin-source=env:" + kPwEnv, KeyType::ec_p256);
  const std::string plain_uri =
      create(*store, "tpm2:file=" + dir.file("plain.pem"), KeyType::ec_p256).uri;
  auto bad = signer_for(*store, uri + "?pin-source=env:" + kBadPwEnv);
  auto plain = signer_for(*store, plain_uri);
  Signed refused = sign(*bad, SigScheme::ecdsa, "SHA256", "wrong");
  ASSERT_FALSE(refused.sig);
  EXPECT_EQ(refused.sig.error().kind, ErrorKind::auth) << refused.sig.error().message;

  tpm.stop();
  tpm.start_on_same_port();
  expect_signs(*plain, plain->public_key(), SigScheme::ecdsa, "SHA256", "reconnected");
  auto ctx = context_of(tpm);
  const uint32_t failures = lockout_counter(tpm);
  const uint64_t sent = ctx->commands_sent();
  Signed again = sign(*bad, SigScheme::ecdsa, "SHA256", "wrong again");
  ASSERT_FALSE(again.sig);
  EXPECT_EQ(again.sig.error().kind, ErrorKind::auth) << again.sig.error().message;
  EXPECT_EQ(ctx->commands_sent(), sent) << "the rejected password was sent again";
  EXPECT_EQ(lockout_counter(tpm), failures) << "the TPM was given the wrong password again";
}

// A TPM2_Sign that never comes back (swtpm stopped with SIGSTOP) is the watchdog's: the
// stuck handler hears of it within the timeout, naming TPM2_Sign and the TPM. (hwca's own
// handler prints that line and exits with code 5: cli.tpm2_hwca_stuck.)
TEST(Tpm2Recovery, AStuckTpm2SignIsReportedByTheCallWatchdog) {
  Swtpm tpm;
  TempDir dir("hwca-tpm2");
  auto store = open_tpm2(tpm);
  auto signer =
      signer_for(*store, create(*store, "tpm2:file=" + dir.file("k.pem"), KeyType::ec_p256).uri);
  expect_signs(*signer, signer->public_key(), SigScheme::ecdsa, "SHA256", "loaded");

  std::mutex mu;
  std::string stuck;
  const auto old_timeout = tokens::call_timeout();
  tokens::set_call_timeout(std::chrono::milliseconds(1000));
  tokens::set_stuck_handler([&](const std::string& message) {
    std::lock_guard lock(mu);
    if (stuck.empty()) stuck = message;
  });
  ASSERT_EQ(::kill(tpm.pid(), SIGSTOP), 0);
  auto start = std::chrono::steady_clock::now();
  std::thread signing([&] { (void)sign(*signer, SigScheme::ecdsa, "SHA256", "stuck"); });
  std::string seen;
  while (seen.empty() && std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(mu);
    seen = stuck;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  ::kill(tpm.pid(), SIGCONT);
  signing.join();
  tokens::set_stuck_handler(nullptr);
  tokens::set_call_timeout(old_timeout);
  EXPECT_NE(seen.find("TPM '" + tpm.tcti() + "' did not answer TPM2_Sign within 1.0 s"),
            std::string::npos)
      << seen;
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  expect_signs(*signer, signer->public_key(), SigScheme::ecdsa, "SHA256", "answering again");
}

}  // namespace
}  // namespace hwca::test
