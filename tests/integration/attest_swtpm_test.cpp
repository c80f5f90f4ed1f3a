// hwca_attest (the CA's attestation checks, no TPM) against real TPM parts: credentials made
// in software are activated by a swtpm's RSA-2048, ECC P-256 and ECC P-384 EKs
// (tpm2_activatecredential) and match tpm2_makecredential -T none byte for byte; TPM2_Certify
// evidence from tpm2_certify is accepted, and the key's Name is tpm2-tools' own.
#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "attest/certify_evidence.hpp"
#include "attest/ek_certificate.hpp"
#include "attest/make_credential.hpp"
#include "support/shell.hpp"
#include "support/swtpm.hpp"
#include "unit/attest_keys.hpp"

namespace hwca::attest {
namespace {

using hwca::test::shell;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return Bytes(s.begin(), s.end());
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::string hex(const Bytes& b) {
  std::string out;
  char buf[3];
  for (uint8_t c : b) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// tpm2-tools' credential file: magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT,
// TPM2B_ENCRYPTED_SECRET.
const Bytes kCredHeader = {0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1};

Credential split_cred_file(const Bytes& file) {
  EXPECT_GE(file.size(), 12u);
  EXPECT_EQ(Bytes(file.begin(), file.begin() + 8), kCredHeader);
  size_t n = (size_t{file[8]} << 8) | file[9];
  auto mid = file.begin() + 10 + static_cast<long>(n);
  return Credential{Bytes(file.begin() + 8, mid), Bytes(mid, file.end())};
}

// One swtpm, an ECC and an RSA AK made under its RSA EK, for the whole suite.
class AttestSwtpm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tpm_ = std::make_unique<hwca::test::Swtpm>();
    dir_ = tpm_->dir() + "/attest/";
    run("mkdir -p " + dir_);
    run("tpm2_createek -G rsa -c " + dir_ + "ek_rsa.ctx -u " + dir_ + "ek_rsa.pub");
    run("tpm2_createek -G ecc -c " + dir_ + "ek_ecc.ctx -u " + dir_ + "ek_ecc.pub");
    run("tpm2_readpublic -c 0x81010016 -o " + dir_ + "ek_384.pub");
    run("tpm2_createak -C " + dir_ + "ek_rsa.ctx -c " + dir_ +
        "ak.ctx -G ecc -g sha256 -s ecdsa -u " + dir_ + "ak.pub -n " + dir_ + "ak.name");
    run("tpm2_createak -C " + dir_ + "ek_rsa.ctx -c " + dir_ +
        "akr.ctx -G rsa -g sha256 -s rsassa -u " + dir_ + "akr.pub -n " + dir_ + "akr.name");
  }
  static void TearDownTestSuite() { tpm_.reset(); }

  // A tpm2-tools command on the suite's TPM; transient objects flushed after it (3 slots).
  static std::string run(const std::string& command, bool must = true) {
    int status = -1;
    std::string out = shell(tpm_->tools_env() + "timeout 30 " + command, &status);
    int ignored = -1;
    shell(tpm_->tools_env() + "tpm2_flushcontext -t", &ignored);
    if (must) {
      EXPECT_EQ(status, 0) << command << ": " << out;
    }
    last_status_ = status;
    return out;
  }

  static TpmPublic public_file(const std::string& name) {
    auto p = parse_public(read_bytes(dir_ + name));
    EXPECT_TRUE(p) << name << ": " << (p ? "" : p.error().message);
    return p ? *p : TpmPublic{};
  }

  // tpm2_activatecredential with the AK and the EK; the secret it recovers, or "" if refused.
  static Bytes activate(const std::string& ek, const Credential& c, bool policy) {
    write_bytes(dir_ + "cred.in", concat(concat(kCredHeader, c.id_object), c.encrypted_secret));
    std::remove((dir_ + "cred.out").c_str());
    std::string auth;
    if (policy) {  // the TCG template's policy: PolicySecret(endorsement)
      run("tpm2_startauthsession --policy-session -S " + dir_ + "s.ctx");
      run("tpm2_policysecret -S " + dir_ + "s.ctx -c e");
      auth = " -P session:" + dir_ + "s.ctx";
    }
    run("tpm2_activatecredential -c " + dir_ + "ak.ctx -C " + ek + " -i " + dir_ + "cred.in -o " +
            dir_ + "cred.out" + auth,
        false);
    int status = last_status_;
    if (policy) run("tpm2_flushcontext " + dir_ + "s.ctx", false);
    return status == 0 ? read_bytes(dir_ + "cred.out") : Bytes{};
  }

  static std::unique_ptr<hwca::test::Swtpm> tpm_;
  static std::string dir_;
  static int last_status_;
};

std::unique_ptr<hwca::test::Swtpm> AttestSwtpm::tpm_;
std::string AttestSwtpm::dir_;
int AttestSwtpm::last_status_ = 0;

TEST_F(AttestSwtpm, TheAksPublicAreasParseAndNameAsTpm2ToolsDoes) {
  for (const char* ak : {"ak", "akr"}) {
    SCOPED_TRACE(ak);
    TpmPublic pub = public_file(std::string(ak) + ".pub");
    EXPECT_EQ(hex(pub.name), hex(read_bytes(dir_ + ak + ".name")));
    auto ok = is_attestation_key(pub.area);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
    EXPECT_EQ(is_certifiable_key(pub.area).error().reason, Reason::restricted);
  }
}

TEST_F(AttestSwtpm, SoftwareMakeCredentialActivatesWithRsaP256AndP384Eks) {
  struct Ek {
    const char* pub;
    std::string handle;
    bool policy;
    TPMI_ALG_HASH alg;
    uint16_t bits;
  };
  const Ek eks[] = {{"ek_rsa.pub", dir_ + "ek_rsa.ctx", true, TPM2_ALG_SHA256, 128},
                    {"ek_ecc.pub", dir_ + "ek_ecc.ctx", true, TPM2_ALG_SHA256, 128},
                    {"ek_384.pub", "0x81010016", false, TPM2_ALG_SHA384, 256}};
  Bytes ak_name = read_bytes(dir_ + "ak.name");
  for (const Ek& e : eks) {
    SCOPED_TRACE(e.pub);
    auto ek = ek_from_public(public_file(e.pub));
    ASSERT_TRUE(ek) << ek.error().message;
    EXPECT_EQ(ek->name_alg, e.alg);
    EXPECT_EQ(ek->aes_bits, e.bits);
    Bytes secret(32);
    ASSERT_EQ(RAND_bytes(secret.data(), 32), 1);
    auto cred = make_credential(*ek, ak_name, secret);
    ASSERT_TRUE(cred) << cred.error().message;
    EXPECT_EQ(hex(activate(e.handle, *cred, e.policy)), hex(secret));
    // Made for another object's name: the TPM refuses it (its HMAC covers the name).
    Bytes other = ak_name;
    other.back() ^= 1;
    auto wrong = make_credential(*ek, other, secret);
    ASSERT_TRUE(wrong);
    EXPECT_TRUE(activate(e.handle, *wrong, e.policy).empty()) << "activated for another name";
  }
  // An EK given by its certificate (swtpm_setup's, NV 0x01c00002) is the RSA EK, with the
  // template's parameters assumed.
  run("tpm2_nvread 0x01c00002 -o " + dir_ + "ek_rsa.der");
  Bytes der = read_bytes(dir_ + "ek_rsa.der");
  const uint8_t* p = der.data();
  ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(cert);
  auto from_cert = ek_from_certificate(cert.get());
  ASSERT_TRUE(from_cert) << from_cert.error().message;
  auto from_pub = ek_from_public(public_file("ek_rsa.pub"));
  ASSERT_TRUE(from_pub);
  EXPECT_EQ(EVP_PKEY_eq(from_cert->key.get(), from_pub->key.get()), 1);
  EXPECT_EQ(from_cert->name_alg, from_pub->name_alg);
  EXPECT_EQ(from_cert->aes_bits, from_pub->aes_bits);
  auto cred = make_credential(*from_cert, ak_name, Bytes(32, 7));
  ASSERT_TRUE(cred);
  EXPECT_EQ(activate(dir_ + "ek_rsa.ctx", *cred, true), Bytes(32, 7));
}

// The EK certificates swtpm_setup wrote to NV (RSA-2048 at 0x01c00002, ECC P-384 at
// 0x01c00016), as tpm2_nvread gives them, parse and chain to the swtpm-localca root through
// its intermediate; without the intermediate they do not. Their keys are the TPM's EKs.
TEST_F(AttestSwtpm, NvEkCertificatesChainToTheLocalca) {
  auto pem_cert = [](const std::string& path) {
    Bytes bytes = read_bytes(path);
    auto cert = parse_ek_certificate(bytes);
    EXPECT_TRUE(cert) << path << ": " << (cert ? "" : cert.error().message);
    return cert ? std::move(*cert) : ossl::Ptr<X509>();
  };
  auto root = pem_cert(tpm_->ek_root_pem());
  auto intermediate = pem_cert(tpm_->ek_intermediate_pem());
  ASSERT_TRUE(root && intermediate);
  struct Nv {
    const char* index;
    const char* pub;  // the EK's public area, from the suite's setup
    int base_id;
  };
  for (const Nv& nv : {Nv{"0x01c00002", "ek_rsa.pub", EVP_PKEY_RSA},
                       Nv{"0x01c00016", "ek_384.pub", EVP_PKEY_EC}}) {
    SCOPED_TRACE(nv.index);
    const std::string file = dir_ + "nv_" + nv.index + ".der";
    run(std::string("tpm2_nvread ") + nv.index + " -o " + file);
    auto cert = parse_ek_certificate(read_bytes(file));
    ASSERT_TRUE(cert) << cert.error().message;
    EVP_PKEY* key = X509_get0_pubkey(cert->get());
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(key), nv.base_id);
    auto from_pub = ek_from_public(public_file(nv.pub));
    ASSERT_TRUE(from_pub);
    EXPECT_EQ(EVP_PKEY_eq(key, from_pub->key.get()), 1);
    EXPECT_EQ(ek_spki_sha256(key), ek_spki_sha256(from_pub->key.get()));
    EXPECT_TRUE(ek_from_key(key));
    auto ok = verify_ek_chain(cert->get(), {root.get()}, {intermediate.get()});
    EXPECT_TRUE(ok) << ok.error().message;
    EXPECT_FALSE(verify_ek_chain(cert->get(), {root.get()}, {}));
    EXPECT_FALSE(verify_ek_chain(cert->get(), {intermediate.get()}, {}));
  }
}

// tpm2_makecredential -T none with a software "EK" whose private key is known here: the
// seed it chose is recovered, and credential_blob with that seed gives its blob byte for byte.
TEST_F(AttestSwtpm, CredentialBlobMatchesTpm2MakecredentialByteForByte) {
  Bytes name = read_bytes(dir_ + "ak.name");
  Bytes secret(32, 0x33);
  write_bytes(dir_ + "secret.bin", secret);
  struct Kind {
    const char* what;
    ossl::Ptr<EVP_PKEY> key;
    TPMI_ALG_HASH alg;  // the template's nameAlg (the P-384 one: SHA-384 and AES-256)
  };
  Kind kinds[] = {{"rsa-2048", test::rsa_key(2048), TPM2_ALG_SHA256},
                  {"ecc-p256", test::ec_key("P-256"), TPM2_ALG_SHA256},
                  {"ecc-p384", test::ec_key("P-384"), TPM2_ALG_SHA384}};
  for (Kind& k : kinds) {
    SCOPED_TRACE(k.what);
    TPMT_PUBLIC area = test::area_of(k.key.get(), test::kEkAttrs);
    area.nameAlg = k.alg;
    if (k.alg == TPM2_ALG_SHA384) area.parameters.eccDetail.symmetric.keyBits.aes = 256;
    const size_t hlen = hash_size(k.alg);
    write_bytes(dir_ + "sw_ek.pub", test::marshal_public(area));
    int status = -1;
    std::string out = shell("tpm2_makecredential -T none -u " + dir_ + "sw_ek.pub -s " + dir_ +
                                "secret.bin -n " + hex(name) + " -o " + dir_ + "sw.cred",
                            &status);
    ASSERT_EQ(status, 0) << out;
    Credential theirs = split_cred_file(read_bytes(dir_ + "sw.cred"));
    // The seed, recovered with the EK's private key.
    Bytes seed;
    Bytes enc(theirs.encrypted_secret.begin() + 2, theirs.encrypted_secret.end());
    if (EVP_PKEY_is_a(k.key.get(), "RSA")) {
      ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.key.get(), nullptr));
      ASSERT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
      ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
      ASSERT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), "SHA256", nullptr), 1);
      ASSERT_EQ(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), OPENSSL_memdup("IDENTITY", 9), 9), 1);
      seed.resize(256);
      size_t len = seed.size();
      ASSERT_EQ(EVP_PKEY_decrypt(ctx.get(), seed.data(), &len, enc.data(), enc.size()), 1);
      seed.resize(len);
    } else {
      // enc: TPMS_ECC_POINT, two TPM2Bs; tpm2-tools writes each coordinate without its
      // leading zero bytes (one time in 128, a 31-byte coordinate on P-256). KDFe takes x as
      // sent; the point, padded to the field size. Z = x(d_EK * point).
      const size_t f = static_cast<size_t>((EVP_PKEY_get_bits(k.key.get()) + 7) / 8);
      auto tpm2b_at = [&](size_t& at) {
        EXPECT_LE(at + 2, enc.size());
        const size_t n = (size_t{enc[at]} << 8) | enc[at + 1];
        EXPECT_LE(at + 2 + n, enc.size());
        EXPECT_LE(n, f);
        Bytes coord(enc.begin() + static_cast<long>(at + 2), enc.begin() + static_cast<long>(at + 2 + n));
        at += 2 + n;
        return coord;
      };
      size_t at = 0;
      Bytes x = tpm2b_at(at), y = tpm2b_at(at);
      ASSERT_EQ(at, enc.size());
      auto padded = [&](const Bytes& c) { return concat(Bytes(f - c.size(), 0), c); };
      Bytes point = concat(concat({0x04}, padded(x)), padded(y));
      ossl::Ptr<EVP_PKEY> peer(EVP_PKEY_new());
      ASSERT_EQ(EVP_PKEY_copy_parameters(peer.get(), k.key.get()), 1);
      ASSERT_EQ(EVP_PKEY_set1_encoded_public_key(peer.get(), point.data(), point.size()), 1);
      ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.key.get(), nullptr));
      ASSERT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
      ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), peer.get()), 1);
      Bytes z(f);
      size_t zlen = z.size();
      ASSERT_EQ(EVP_PKEY_derive(ctx.get(), z.data(), &zlen), 1);
      Bytes ek_x(area.unique.ecc.x.buffer, area.unique.ecc.x.buffer + area.unique.ecc.x.size);
      auto s = kdfe(k.alg, z, "IDENTITY", x, ek_x, 8 * hlen);
      ASSERT_TRUE(s);
      seed = *s;
    }
    ASSERT_EQ(seed.size(), hlen);
    auto pub = parse_public(test::marshal_public(area));
    ASSERT_TRUE(pub);
    auto ek = ek_from_public(*pub);
    ASSERT_TRUE(ek) << ek.error().message;
    auto assumed = ek_from_key(k.key.get());  // the template assumed from the key alone
    ASSERT_TRUE(assumed);
    EXPECT_EQ(assumed->name_alg, ek->name_alg);
    EXPECT_EQ(assumed->aes_bits, ek->aes_bits);
    auto blob = credential_blob(*ek, seed, name, secret);
    ASSERT_TRUE(blob) << blob.error().message;
    EXPECT_EQ(hex(*blob), hex(theirs.id_object));
    if (EVP_PKEY_is_a(k.key.get(), "RSA")) {  // the whole MakeCredential with that seed
      MakeCredentialOptions o;
      o.seed = seed;
      auto mine = make_credential(*ek, name, secret, o);
      ASSERT_TRUE(mine);
      EXPECT_EQ(hex(mine->id_object), hex(theirs.id_object));
    }
  }
}

TEST_F(AttestSwtpm, Tpm2CertifyEvidenceIsAcceptedAndItsNameIsTpm2ToolsOwn) {
  const std::string d = dir_;
  run("tpm2_createprimary -C o -g sha256 -G ecc -c " + d + "prim.ctx");
  run("tpm2_create -C " + d + "prim.ctx -G ecc -a " +
      "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' -u " + d + "key.pub -r " + d +
      "key.priv");
  run("tpm2_create -C " + d + "prim.ctx -G rsa2048 -a " +
      "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt' -u " + d +
      "dkey.pub -r " + d + "dkey.priv");
  run("tpm2_load -C " + d + "prim.ctx -u " + d + "key.pub -r " + d + "key.priv -c " + d +
      "key.ctx -n " + d + "key.name");
  TpmPublic key = public_file("key.pub");
  EXPECT_EQ(hex(key.name), hex(read_bytes(d + "key.name"))) << "not tpm2-tools' name";
  auto certifiable = is_certifiable_key(key.area);
  EXPECT_TRUE(certifiable) << (certifiable ? "" : certifiable.error().message);
  // A key that also decrypts, made by the same TPM: refused as a kubelet key.
  EXPECT_EQ(is_certifiable_key(public_file("dkey.pub").area).error().reason, Reason::decrypt);

  // tpm2-tools 5.4's tpm2_certify takes no qualifying data: it sends 00ff55aa.
  const Bytes extra = {0x00, 0xff, 0x55, 0xaa};
  for (const char* ak : {"ak", "akr"}) {
    SCOPED_TRACE(ak);
    run("tpm2_certify -c " + d + "key.ctx -C " + d + ak + ".ctx -g sha256 -o " + d + ak +
        ".attest -s " + d + ak + ".sig");
    Bytes attest = read_bytes(d + ak + ".attest");
    Bytes sig = read_bytes(d + ak + ".sig");
    TpmPublic ak_pub = public_file(std::string(ak) + ".pub");
    auto ok = verify_certify(attest, sig, ak_pub, key, extra);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
    // The same real evidence, refused for each fault.
    EXPECT_EQ(verify_certify(attest, sig, ak_pub, key, Bytes{1, 2, 3, 4}).error().reason,
              Reason::extra_data_mismatch);
    TpmPublic other_ak = public_file(std::string(ak) == "ak" ? "akr.pub" : "ak.pub");
    EXPECT_EQ(verify_certify(attest, sig, other_ak, key, extra).error().reason,
              Reason::unsupported_signature);
    EXPECT_EQ(verify_certify(attest, sig, ak_pub, public_file("dkey.pub"), extra).error().reason,
              Reason::name_mismatch);
    Bytes longer = concat(attest, {0});
    EXPECT_EQ(verify_certify(longer, sig, ak_pub, key, extra).error().reason,
              Reason::trailing_bytes);
    Bytes tampered = attest;
    tampered[tampered.size() - 1] ^= 1;
    EXPECT_EQ(verify_certify(tampered, sig, ak_pub, key, extra).error().reason,
              Reason::bad_signature);
  }
}

}  // namespace
}  // namespace hwca::attest
