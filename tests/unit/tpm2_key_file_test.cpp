// "TSS2 PRIVATE KEY" files (tokens/tpm2/key_file.hpp): what hwca writes reads back field for
// field, and every file it cannot use is refused with its reason. Wrong files are made with
// OpenSSL (ASN1_generate_nconf, or a good file's bytes edited), not with the code under test.
// (Files made by tpm2-openssl 1.1.1 against swtpm were checked by hand, outside the tests.)
#include <dirent.h>
#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/conf.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.hpp"
#include "common/ossl.hpp"
#include "support/temp_dir.hpp"
#include "tokens/tpm2/key_file.hpp"

namespace hwca::tokens::tpm2 {
namespace {

constexpr const char* kBegin = "-----BEGIN TSS2 PRIVATE KEY-----\n";
constexpr const char* kEnd = "-----END TSS2 PRIVATE KEY-----\n";
// 2.23.133.10.1.3 as DER: tag, length, contents.
const std::string kLoadableOid("\x06\x06\x67\x81\x05\x0a\x01\x03", 8);

// An ECC P-256 signing key as a TPM returns it (sign | userWithAuth | sensitiveDataOrigin |
// fixedParent | fixedTPM), with a made-up point and private blob.
KeyFile sample_key(bool empty_auth = true) {
  KeyFile k;
  k.empty_auth = empty_auth;
  TPMT_PUBLIC& p = k.pub.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = 0x00040072;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  p.unique.ecc.x.size = 32;
  p.unique.ecc.y.size = 32;
  for (int i = 0; i < 32; ++i) {
    p.unique.ecc.x.buffer[i] = static_cast<BYTE>(0x10 + i);
    p.unique.ecc.y.buffer[i] = static_cast<BYTE>(0xa0 + i);
  }
  k.priv.size = 126;
  for (int i = 0; i < k.priv.size; ++i) k.priv.buffer[i] = static_cast<BYTE>(i * 7 + 3);
  return k;
}

std::string marshalled(const TPM2B_PUBLIC& pub) {
  uint8_t buf[sizeof pub];
  size_t len = 0;
  EXPECT_EQ(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof buf, &len), TSS2_RC_SUCCESS);
  return std::string(reinterpret_cast<char*>(buf), len);
}

std::string marshalled(const TPM2B_PRIVATE& priv) {
  uint8_t buf[sizeof priv];
  size_t len = 0;
  EXPECT_EQ(Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, buf, sizeof buf, &len), TSS2_RC_SUCCESS);
  return std::string(reinterpret_cast<char*>(buf), len);
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

void expect_same_key(const KeyFile& got, const KeyFile& want) {
  EXPECT_EQ(got.empty_auth, want.empty_auth);
  EXPECT_EQ(got.parent, want.parent);
  EXPECT_EQ(marshalled(got.pub), marshalled(want.pub));
  EXPECT_EQ(got.priv.size, want.priv.size);
  EXPECT_EQ(marshalled(got.priv), marshalled(want.priv));
  EXPECT_EQ(got.description, want.description);
}

std::string pem_of(const KeyFile& key) {
  auto pem = key_file_pem(key);
  EXPECT_TRUE(pem) << pem.error().message;
  return pem ? *pem : std::string();
}

// The DER inside a PEM text, read with OpenSSL.
std::string der_of(const std::string& pem) {
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  EXPECT_EQ(PEM_read_bio(bio.get(), &name, &header, &data, &len), 1);
  std::string der(reinterpret_cast<char*>(data), static_cast<size_t>(len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return der;
}

std::string pem_wrap(const std::string& der, const char* label = "TSS2 PRIVATE KEY") {
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  EXPECT_GT(PEM_write_bio(bio.get(), label, "", reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<long>(der.size())),
            0);
  char* text = nullptr;
  long len = BIO_get_mem_data(bio.get(), &text);
  return std::string(text, static_cast<size_t>(len));
}

// A TPMKey built by OpenSSL from a config: `fields` are the lines of its [key] section, in
// order; `sections` holds any further sections they use.
std::string generated_der(const std::vector<std::string>& fields,
                          const std::string& sections = "") {
  std::string conf = "[key]\n";
  for (const auto& f : fields) conf += f + "\n";
  conf += sections;
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(conf.data(), static_cast<int>(conf.size())));
  CONF* nconf = NCONF_new(nullptr);
  long bad_line = 0;
  EXPECT_EQ(NCONF_load_bio(nconf, bio.get(), &bad_line), 1) << "line " << bad_line;
  ASN1_TYPE* seq = ASN1_generate_nconf("SEQUENCE:key", nconf);
  EXPECT_NE(seq, nullptr) << ossl::take_errors() << "\n" << conf;
  std::string der;
  unsigned char* out = nullptr;
  int len = seq != nullptr ? i2d_ASN1_TYPE(seq, &out) : -1;
  if (len > 0) der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  ASN1_TYPE_free(seq);
  NCONF_free(nconf);
  return der;
}

// The [key] lines of sample_key() as tpm2-openssl writes it.
std::vector<std::string> good_fields() {
  KeyFile k = sample_key();
  return {"type=OID:2.23.133.10.1.3", "empty_auth=EXPLICIT:0,BOOLEAN:TRUE",
          "parent=INTEGER:0x40000001", "pubkey=FORMAT:HEX,OCTETSTRING:" + hex(marshalled(k.pub)),
          "privkey=FORMAT:HEX,OCTETSTRING:" + hex(marshalled(k.priv))};
}

std::vector<std::string>::iterator field(std::vector<std::string>& fields,
                                         const std::string& name) {
  auto it = std::find_if(fields.begin(), fields.end(),
                         [&](const std::string& f) { return f.rfind(name + "=", 0) == 0; });
  EXPECT_NE(it, fields.end()) << name;
  return it;
}

std::vector<std::string> with(std::vector<std::string> fields, const std::string& name,
                              const std::string& value) {
  *field(fields, name) = name + "=" + value;
  return fields;
}

std::vector<std::string> without(std::vector<std::string> fields, const std::string& name) {
  fields.erase(field(fields, name));
  return fields;
}

// `line` inserted just before the parent field, where the optional fields [1]-[5] go.
std::vector<std::string> plus(std::vector<std::string> fields, const std::string& line) {
  fields.insert(field(fields, "parent"), line);
  return fields;
}

// Expect a one-line usage error that names the file and contains `reason`.
void expect_refused(const std::string& data, const std::string& reason) {
  auto r = parse_key_file(data, "key.pem");
  ASSERT_FALSE(r) << "accepted; expected: " << reason;
  EXPECT_EQ(r.error().kind, ErrorKind::usage) << r.error().message;
  EXPECT_EQ(r.error().message.rfind("key.pem: ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
  auto text = read_file(path);
  return text ? *text : "<" + text.error().message + ">";
}

class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(Tpm2KeyFileTest, PemRoundTripKeepsEveryField) {
  KeyFile key = sample_key();
  key.description = "hwca ca 'root' – ECC P-256";
  std::string pem = pem_of(key);
  auto back = parse_key_file(pem, "key.pem");
  ASSERT_TRUE(back) << back.error().message;
  expect_same_key(*back, key);
  EXPECT_EQ(back->pub.publicArea.type, TPM2_ALG_ECC);
  EXPECT_EQ(back->pub.publicArea.objectAttributes, 0x00040072u);
  EXPECT_EQ(back->pub.publicArea.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
  EXPECT_EQ(back->pub.publicArea.unique.ecc.y.buffer[31], 0xa0 + 31);
  EXPECT_EQ(back->pub.size, marshalled(key.pub).size() - 2);
  EXPECT_EQ(back->priv.size, 126);
  EXPECT_EQ(back->priv.buffer[125], static_cast<BYTE>(125 * 7 + 3));
  EXPECT_EQ(back->parent, kOwnerSrkParent);
}

TEST(Tpm2KeyFileTest, EmptyAuthTrueAndFalseBothSurvive) {
  for (bool empty_auth : {true, false}) {
    auto back = parse_key_file(pem_of(sample_key(empty_auth)), "key.pem");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->empty_auth, empty_auth);
  }
}

TEST(Tpm2KeyFileTest, EmptyAuthIsWrittenExplicitlyAfterTheType) {
  // [0] { BOOLEAN } right after the OID, TRUE as 0xff and FALSE as 0x00 (not left out).
  std::string t = der_of(pem_of(sample_key(true)));
  std::string f = der_of(pem_of(sample_key(false)));
  EXPECT_NE(t.find(kLoadableOid + std::string("\xa0\x03\x01\x01\xff", 5)), std::string::npos);
  EXPECT_NE(f.find(kLoadableOid + std::string("\xa0\x03\x01\x01\x00", 5)), std::string::npos);
}

TEST(Tpm2KeyFileTest, PemHasTheTss2Label) {
  std::string pem = pem_of(sample_key());
  EXPECT_EQ(pem.rfind(kBegin, 0), 0u) << pem;
  ASSERT_GE(pem.size(), std::strlen(kEnd));
  EXPECT_EQ(pem.substr(pem.size() - std::strlen(kEnd)), kEnd) << pem;
}

TEST(Tpm2KeyFileTest, DerIsReadToo) {
  KeyFile key = sample_key(false);
  key.parent = 0x81000001;
  std::string der = der_of(pem_of(key));
  ASSERT_EQ(static_cast<unsigned char>(der[0]), 0x30);
  auto back = parse_key_file(der, "key.der");
  ASSERT_TRUE(back) << back.error().message;
  expect_same_key(*back, key);
}

TEST(Tpm2KeyFileTest, DescriptionIsOptional) {
  KeyFile plain = sample_key();
  KeyFile described = sample_key();
  described.description = "a key";
  std::string without_der = der_of(pem_of(plain));
  std::string with_der = der_of(pem_of(described));
  // [4] { UTF8String "a key" }: 2 + 2 + 5 bytes, only when there is a description.
  EXPECT_EQ(with_der.size(), without_der.size() + 9);
  EXPECT_NE(with_der.find(std::string("\xa4\x07\x0c\x05"
                                      "a key",
                                      9)),
            std::string::npos);
  auto back = parse_key_file(pem_wrap(without_der), "key.pem");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->description, "");
  back = parse_key_file(pem_wrap(with_der), "key.pem");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->description, "a key");
}

TEST(Tpm2KeyFileTest, AFileBuiltByOpenSslFromTheDraftReads) {
  // Checks the builder the refusal tests below use, and tpm2-openssl's layout.
  auto back = parse_key_file(pem_wrap(generated_der(good_fields())), "key.pem");
  ASSERT_TRUE(back) << back.error().message;
  expect_same_key(*back, sample_key());
  EXPECT_EQ(generated_der(good_fields()), der_of(pem_of(sample_key())));
}

TEST(Tpm2KeyFileTest, MissingEmptyAuthReadsAsFalse) {
  auto back = parse_key_file(generated_der(without(good_fields(), "empty_auth")), "key.der");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->empty_auth);
}

TEST(Tpm2KeyFileTest, DescriptionAndRsaParentFalseFromOtherWritersAreFine) {
  auto fields = plus(good_fields(), "description=EXPLICIT:4,UTF8:made elsewhere");
  fields = plus(fields, "rsa_parent=EXPLICIT:5,BOOLEAN:FALSE");
  auto back = parse_key_file(generated_der(fields), "key.der");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->description, "made elsewhere");
}

TEST(Tpm2KeyFileTest, AnotherPemLabelIsRefused) {
  std::string der = der_of(pem_of(sample_key()));
  expect_refused(pem_wrap(der, "PRIVATE KEY"),
                 "not a TSS2 PRIVATE KEY file (PEM label 'PRIVATE KEY')");
  expect_refused(pem_wrap(der, "TSS2 KEY BLOB"), "PEM label 'TSS2 KEY BLOB'");
}

TEST(Tpm2KeyFileTest, GarbageIsRefused) {
  expect_refused("", "neither PEM nor DER");
  expect_refused("hello, world\n", "neither PEM nor DER");
  expect_refused(std::string("\x30\x03\x02\x01\x01", 5), "not a TSS2 PRIVATE KEY file");
  expect_refused(std::string(kBegin) + "!!!!\n" + kEnd, "bad PEM");
  expect_refused(pem_wrap("not DER at all"), "not a TSS2 PRIVATE KEY file");
  // A good file cut short.
  std::string der = der_of(pem_of(sample_key()));
  expect_refused(der.substr(0, der.size() - 1), "not a TSS2 PRIVATE KEY file");
}

TEST(Tpm2KeyFileTest, OtherKeyTypesAreRefused) {
  std::string der = der_of(pem_of(sample_key()));
  size_t at = der.find(kLoadableOid);
  ASSERT_NE(at, std::string::npos);
  size_t last = at + kLoadableOid.size() - 1;
  std::string importable = der, sealed = der, other = der;
  importable[last] = 0x04;
  sealed[last] = 0x05;
  other[last] = 0x07;
  expect_refused(importable, "an importable key (2.23.133.10.1.4)");
  expect_refused(pem_wrap(sealed), "sealed data (2.23.133.10.1.5)");
  expect_refused(other, "type 2.23.133.10.1.7 is not a loadable key");
  expect_refused(generated_der(with(good_fields(), "type", "OID:1.2.840.10045.2.1")),
                 "type 1.2.840.10045.2.1 is not a loadable key");
}

TEST(Tpm2KeyFileTest, TrailingBytesAreRefused) {
  std::string der = der_of(pem_of(sample_key()));
  expect_refused(der + std::string(1, '\0'), "after the TSS2 PRIVATE KEY structure");
  expect_refused(pem_wrap(der + "xy"), "after the TSS2 PRIVATE KEY structure");
  std::string pem = pem_of(sample_key());
  EXPECT_TRUE(parse_key_file(pem + "\n \n", "key.pem"));  // blank lines are fine
  expect_refused(pem + pem, "text after the END TSS2 PRIVATE KEY line");
}

TEST(Tpm2KeyFileTest, PubkeyAndPrivkeyMustUnmarshalWhole) {
  KeyFile k = sample_key();
  std::string pub = hex(marshalled(k.pub)), priv = hex(marshalled(k.priv));
  auto fields = good_fields();
  expect_refused(generated_der(with(fields, "pubkey", "FORMAT:HEX,OCTETSTRING:" + pub + "00")),
                 "pubkey has 1 byte after its TPM2B_PUBLIC");
  expect_refused(generated_der(with(fields, "pubkey",
                                    "FORMAT:HEX,OCTETSTRING:" + pub.substr(0, pub.size() - 2))),
                 "pubkey is not a TPM2B_PUBLIC");
  expect_refused(generated_der(with(fields, "pubkey", "FORMAT:HEX,OCTETSTRING:0000")),
                 "pubkey is not a TPM2B_PUBLIC");
  expect_refused(generated_der(with(fields, "privkey", "FORMAT:HEX,OCTETSTRING:" + priv + "0000")),
                 "privkey has 2 bytes after its TPM2B_PRIVATE");
  expect_refused(generated_der(with(fields, "privkey",
                                    "FORMAT:HEX,OCTETSTRING:" + priv.substr(0, priv.size() - 2))),
                 "privkey is not a TPM2B_PRIVATE");
  expect_refused(generated_der(with(fields, "privkey", "FORMAT:HEX,OCTETSTRING:0000")),
                 "privkey is not a TPM2B_PRIVATE");
  // The TPM2B_PUBLIC's own size one more or one less than its public area takes.
  std::string grown = marshalled(k.pub) + '\0';
  grown[1] = static_cast<char>(static_cast<unsigned char>(grown[1]) + 1);
  expect_refused(generated_der(with(fields, "pubkey", "FORMAT:HEX,OCTETSTRING:" + hex(grown))),
                 "pubkey's TPM2B_PUBLIC size does not match its contents");
  std::string shrunk = marshalled(k.pub);
  shrunk[1] = static_cast<char>(static_cast<unsigned char>(shrunk[1]) - 1);
  expect_refused(generated_der(with(fields, "pubkey", "FORMAT:HEX,OCTETSTRING:" + hex(shrunk))),
                 "pubkey's TPM2B_PUBLIC size does not match its contents");
}

TEST(Tpm2KeyFileTest, RsaParentTrueIsRefused) {
  expect_refused(generated_der(plus(good_fields(), "rsa_parent=EXPLICIT:5,BOOLEAN:TRUE")),
                 "rsaParent");
}

TEST(Tpm2KeyFileTest, PoliciesAndSecretsAreRefused) {
  const std::string policy_sections =
      "[policies]\np1=SEQUENCE:policy1\n"
      "[policy1]\ncc=EXPLICIT:0,INTEGER:0x17f\ncp=EXPLICIT:1,FORMAT:HEX,OCTETSTRING:00000001\n"
      "[auth_policies]\na1=SEQUENCE:auth1\n"
      "[auth1]\nname=EXPLICIT:0,UTF8:pcr\npolicy=EXPLICIT:1,SEQUENCE:policies\n";
  expect_refused(
      generated_der(plus(good_fields(), "policy=EXPLICIT:1,SEQUENCE:policies"), policy_sections),
      "the key needs a TPM policy, which hwca does not run");
  expect_refused(generated_der(plus(good_fields(), "auth_policy=EXPLICIT:3,SEQUENCE:auth_policies"),
                               policy_sections),
                 "authorisation policies");
  expect_refused(
      generated_der(plus(good_fields(), "secret=EXPLICIT:2,FORMAT:HEX,OCTETSTRING:0102")),
      "import secret");
}

TEST(Tpm2KeyFileTest, ParentMustBeAHierarchyOrPersistentKey) {
  for (const char* ok : {"0x40000001", "0x4000000c", "0x81000001", "0x81ffffff"}) {
    auto back = parse_key_file(
        generated_der(with(good_fields(), "parent", std::string("INTEGER:") + ok)), "key.der");
    ASSERT_TRUE(back) << ok << ": " << back.error().message;
    EXPECT_EQ(back->parent, std::stoul(ok, nullptr, 16));
  }
  expect_refused(generated_der(with(good_fields(), "parent", "INTEGER:0x01000000")),
                 "parent 0x01000000 is neither a hierarchy");
  expect_refused(generated_der(with(good_fields(), "parent", "INTEGER:0x80000001")),
                 "parent 0x80000001");
  expect_refused(generated_der(with(good_fields(), "parent", "INTEGER:0x41000000")),
                 "parent 0x41000000");
  expect_refused(generated_der(with(good_fields(), "parent", "INTEGER:0x140000001")),
                 "parent 0x140000001");
  expect_refused(generated_der(with(good_fields(), "parent", "INTEGER:-1")),
                 "the parent is not a TPM handle");
}

TEST(Tpm2KeyFileTest, NoPemIsMadeThatNoReaderWouldTake) {
  KeyFile bad_parent = sample_key();
  bad_parent.parent = 0x80000001;
  KeyFile no_priv = sample_key();
  no_priv.priv.size = 0;
  KeyFile no_pub = sample_key();
  no_pub.pub = TPM2B_PUBLIC{};
  for (const KeyFile& key : {bad_parent, no_priv, no_pub}) {
    auto pem = key_file_pem(key);
    ASSERT_FALSE(pem);
    EXPECT_EQ(pem.error().kind, ErrorKind::internal);
  }
  test::TempDir tmp;
  EXPECT_FALSE(write_key_file(tmp.file("key.pem"), bad_parent));
  EXPECT_TRUE(files_in(tmp.path()).empty());
}

TEST(Tpm2KeyFileTest, WriteMakesA0600FileThatReadsBack) {
  test::TempDir tmp;
  const std::string path = tmp.file("key.pem");
  KeyFile key = sample_key();
  {
    ScopedUmask umask(0);
    auto ok = write_key_file(path, key);
    ASSERT_TRUE(ok) << ok.error().message;
  }
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(slurp(path), pem_of(key));
  auto back = read_key_file(path);
  ASSERT_TRUE(back) << back.error().message;
  expect_same_key(*back, key);
  EXPECT_EQ(files_in(tmp.path()), std::vector<std::string>{"key.pem"});
}

TEST(Tpm2KeyFileTest, TheModeIs0600WhateverTheUmask) {
  test::TempDir tmp;
  for (mode_t mask : {0000, 0022, 0077, 0277}) {
    const std::string path = tmp.file("key-" + std::to_string(mask) + ".pem");
    {
      ScopedUmask umask(mask);
      ASSERT_TRUE(write_key_file(path, sample_key()));
    }
    EXPECT_EQ(mode_of(path), 0600u) << "umask " << std::oct << mask;
  }
}

TEST(Tpm2KeyFileTest, ASecondWriteConflictsAndLeavesTheFirstFile) {
  test::TempDir tmp;
  const std::string path = tmp.file("key.pem");
  ASSERT_TRUE(write_key_file(path, sample_key(true)));
  const std::string first = slurp(path);
  auto again = write_key_file(path, sample_key(false));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::conflict);
  EXPECT_NE(again.error().message.find(path), std::string::npos) << again.error().message;
  EXPECT_EQ(slurp(path), first);
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(files_in(tmp.path()), std::vector<std::string>{"key.pem"});
}

TEST(Tpm2KeyFileTest, WriteDoesNotGoThroughADanglingLink) {
  test::TempDir tmp;
  const std::string path = tmp.file("key.pem");
  ASSERT_EQ(::symlink(tmp.file("elsewhere.pem").c_str(), path.c_str()), 0);
  auto ok = write_key_file(path, sample_key());
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().kind, ErrorKind::conflict);
  EXPECT_EQ(files_in(tmp.path()), std::vector<std::string>{"key.pem"});
}

TEST(Tpm2KeyFileTest, RacingWritersLeaveOneWholeFile) {
  test::TempDir tmp;
  const std::string path = tmp.file("key.pem");
  constexpr int kWriters = 8;
  std::vector<std::string> pems(kWriters);
  std::vector<KeyFile> keys(kWriters, sample_key());
  for (int i = 0; i < kWriters; ++i) {
    keys[i].description = "writer " + std::to_string(i);
    pems[i] = pem_of(keys[i]);
  }
  std::latch start(kWriters);
  std::atomic<int> wins{0}, conflicts{0}, winner{-1};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto ok = write_key_file(path, keys[i]);
      if (ok) {
        ++wins;
        winner = i;
      } else if (ok.error().kind == ErrorKind::conflict) {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kWriters - 1);
  ASSERT_GE(winner.load(), 0);
  EXPECT_EQ(slurp(path), pems[winner.load()]);
  EXPECT_EQ(files_in(tmp.path()), std::vector<std::string>{"key.pem"});
}

TEST(Tpm2KeyFileTest, WriteIntoAMissingFolderFails) {
  test::TempDir tmp;
  const std::string path = tmp.file("missing/key.pem");
  auto ok = write_key_file(path, sample_key());
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().kind, ErrorKind::io);
  EXPECT_NE(ok.error().message.find("No such file or directory"), std::string::npos)
      << ok.error().message;
  EXPECT_TRUE(files_in(tmp.path()).empty());
}

TEST(Tpm2KeyFileTest, ReadingAMissingFileIsNotFound) {
  test::TempDir tmp;
  auto back = read_key_file(tmp.file("absent.pem"));
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().kind, ErrorKind::not_found);
}

TEST(Tpm2KeyFileTest, ReadErrorsNameThePath) {
  test::TempDir tmp;
  const std::string path = tmp.file("cert.pem");
  ASSERT_TRUE(write_file_atomic(path, pem_wrap("whatever", "CERTIFICATE"), 0644));
  auto back = read_key_file(path);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().kind, ErrorKind::usage);
  EXPECT_EQ(back.error().message, path + ": not a TSS2 PRIVATE KEY file (PEM label 'CERTIFICATE')");
}

}  // namespace
}  // namespace hwca::tokens::tpm2
