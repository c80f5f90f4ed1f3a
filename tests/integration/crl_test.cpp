// Revocation and CRLs with a CA key in SoftHSM2: certificates recorded in the issuance store
// are revoked, CRLs are signed in the token and checked field by field with OpenSSL, the
// audit log records both, and refused requests (unknown serial, revoked twice, a read-only
// database) leave no audit line.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "ca/audit_log.hpp"
#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/revocation.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/text.hpp"
#include "integration_env.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace hwca::test {
namespace {

constexpr const char* kRequester = "test:crl";

std::time_t time_of(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

// The lower-case hex of an INTEGER's content octets (the store's form of a serial).
std::string serial_hex(const ASN1_INTEGER* serial) {
  unsigned char* der = nullptr;
  int len = i2d_ASN1_INTEGER(serial, &der);
  std::string out = len > 2 ? hex_text(der + 2, static_cast<size_t>(len - 2)) : "";
  OPENSSL_free(der);
  return out;
}

std::vector<nlohmann::json> audit_events(const std::string& path, const std::string& event) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == event) out.push_back(j["data"]);
  }
  return out;
}

size_t audit_lines(const std::string& path) {
  auto summary = ca::AuditLog::verify(path);
  EXPECT_TRUE(summary) << summary.error().message;
  return summary ? summary->lines : 0;
}

class RevocationCrl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto crypto = ca::CryptoContext::create();
    ASSERT_TRUE(crypto) << crypto.error().message;
    crypto_ = crypto->release();
  }
  static void TearDownTestSuite() {
    delete crypto_;
    crypto_ = nullptr;
  }
  // One token key for every test (a label is made once); each test adopts it in a new home.
  static const std::string& key_uri() {
    static const std::string uri = make_key("crl-root", tokens::KeyType::ec_p256);
    return uri;
  }

  void SetUp() override { init_root(root_days()); }
  virtual int root_days() const { return 3650; }

  void init_root(int days) {
    auto home = ca::Home::open(home_dir_.path() + "/home", /*create=*/true);
    ASSERT_TRUE(home) << home.error().message;
    home_.emplace(std::move(*home));
    ca::InitCaRequest req;
    req.name = "root";
    req.key_uri = key_uri();
    req.subject = "/CN=hwca crl test root/O=hwca";
    req.days = days;
    req.key_options = key_options();
    req.requester = kRequester;
    auto made = ca::init_ca(*home_, *crypto_, req);
    ASSERT_TRUE(made) << made.error().message;
    ca_cert_ = std::move(made->cert);
    auto key = crypto_->load_private_key(key_uri(), key_options());
    ASSERT_TRUE(key) << key.error().message;
    ca_key_ = std::move(*key);
    store_ = open_store();
    ASSERT_TRUE(store_);
  }

  std::unique_ptr<ca::SqliteIssuanceStore> open_store() {
    auto store = ca::SqliteIssuanceStore::open(db_path());
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  std::string db_path() const { return home_->path(home_->config().database); }
  std::string audit_path() const { return home_->path(home_->config().audit_log); }

  // A leaf certificate signed by the CA's token key, recorded in the store as issued (or,
  // with `revoked_at`, as issued and revoked then).
  ca::IssuedCert issue(const std::string& name, const std::string& serial = "",
                       int64_t revoked_at = 0, int reason = 0) {
    ossl::Ptr<EVP_PKEY> leaf_key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    auto subject = ca::parse_dn("/CN=" + name);
    ca::CertificateSpec spec;
    spec.subject = subject->get();
    spec.subject_key = leaf_key.get();
    spec.issuer = ca_cert_.get();
    spec.issuer_key = ca_key_.get();
    spec.serial = serial.empty() ? *ca::Serial::random() : *ca::Serial::from_hex(serial);
    spec.not_before = std::time(nullptr) - 300;
    spec.not_after = spec.not_before + 86400;
    spec.key_usage_bits = {0};
    spec.ext_key_usage = {NID_server_auth};
    auto cert = ca::build_certificate(spec, crypto_->libctx());
    EXPECT_TRUE(cert) << cert.error().message;
    ca::IssuedCert c;
    c.serial = spec.serial.hex();
    c.ca = "root";
    c.profile = "server";
    c.subject = ca::dn_text(subject->get());
    c.not_before = spec.not_before;
    c.not_after = spec.not_after;
    c.requester = kRequester;
    c.revoked = revoked_at != 0;
    c.revoked_at = revoked_at;
    c.revocation_reason = reason;
    unsigned char* der = nullptr;
    int len = i2d_X509(cert->get(), &der);
    c.der.assign(der, der + len);
    OPENSSL_free(der);
    auto recorded = store_->record({c});
    EXPECT_TRUE(recorded) << recorded.error().message;
    leaves_[c.serial] = std::move(*cert);
    return c;
  }

  Result<ca::CrlResult> publish(int days) {
    return ca::publish_crl(*home_, *store_, *crypto_, "root", key_options(), days, kRequester);
  }

  // What a relying party concludes about `leaf` given the CA and this CRL.
  int verify_with_crl(const X509* leaf, const X509_CRL* crl) {
    X509_STORE* trust = X509_STORE_new();
    X509_STORE_add_cert(trust, ca_cert_.get());
    X509_STORE_add_crl(trust, const_cast<X509_CRL*>(crl));
    X509_STORE_set_flags(trust, X509_V_FLAG_CRL_CHECK);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, trust, const_cast<X509*>(leaf), nullptr);
    int ok = X509_verify_cert(ctx);
    int error = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(trust);
    return error;
  }

  static ca::CryptoContext* crypto_;
  TempDir home_dir_{"hwca-crl"};
  std::optional<ca::Home> home_;
  ossl::Ptr<X509> ca_cert_;
  ossl::Ptr<EVP_PKEY> ca_key_;
  std::unique_ptr<ca::SqliteIssuanceStore> store_;
  std::map<std::string, ossl::Ptr<X509>> leaves_;
};

ca::CryptoContext* RevocationCrl::crypto_ = nullptr;

// Everything a relying party reads from one CRL, decoded again from its DER.
struct Decoded {
  ossl::Ptr<X509_CRL> crl;
  long version = -1;
  uint64_t number = 0;
  int number_critical = -1;
  std::string aki;
  int aki_critical = -1;
  std::time_t last = 0, next = 0;
  std::map<std::string, int> reasons;  // serial -> reasonCode, -1 when absent
  std::map<std::string, std::time_t> dates;
  std::vector<std::string> order;
};

Decoded decode(const X509_CRL* crl) {
  Decoded d;
  auto der = ca::encode_crl(crl, /*der=*/true);
  EXPECT_TRUE(der) << der.error().message;
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  d.crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(der->size())));
  EXPECT_TRUE(d.crl);
  if (!d.crl) return d;
  X509_CRL* x = d.crl.get();
  d.version = X509_CRL_get_version(x);
  auto* number = static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(x, NID_crl_number, &d.number_critical, nullptr));
  if (number != nullptr) ASN1_INTEGER_get_uint64(&d.number, number);
  ASN1_INTEGER_free(number);
  auto* akid = static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(x, NID_authority_key_identifier, &d.aki_critical, nullptr));
  if (akid != nullptr && akid->keyid != nullptr) {
    d.aki = hex_text(akid->keyid->data, static_cast<size_t>(akid->keyid->length));
    EXPECT_EQ(akid->issuer, nullptr);  // keyid only
    EXPECT_EQ(akid->serial, nullptr);
  }
  AUTHORITY_KEYID_free(akid);
  d.last = time_of(X509_CRL_get0_lastUpdate(x));
  d.next = time_of(X509_CRL_get0_nextUpdate(x));
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(x);
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
    std::string serial = serial_hex(X509_REVOKED_get0_serialNumber(entry));
    int critical = -1;
    auto* reason = static_cast<ASN1_ENUMERATED*>(
        X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nullptr));
    d.reasons[serial] = reason != nullptr ? static_cast<int>(ASN1_ENUMERATED_get(reason)) : -1;
    if (reason != nullptr) {
      EXPECT_EQ(critical, 0);
    }
    ASN1_ENUMERATED_free(reason);
    EXPECT_EQ(X509_REVOKED_get_ext_count(entry), reason != nullptr ? 1 : 0);
    d.dates[serial] = time_of(X509_REVOKED_get0_revocationDate(entry));
    d.order.push_back(serial);
  }
  return d;
}

TEST_F(RevocationCrl, CrlsListTheRevokedWithReasonsAndAreSignedInTheToken) {
  auto a = issue("a.example");
  auto b = issue("b.example");
  auto c = issue("c.example");
  // Revoked an hour ago, with the largest serial there is: first by time, last by serial.
  const std::time_t before = std::time(nullptr);
  auto old = issue("old.example", "7f" + std::string(38, 'f'), before - 3600, 5);
  ASSERT_TRUE(ca::revoke_certificate(*home_, *store_, "root", a.serial, 1, kRequester));
  // Typed as openssl prints it: upper case with colons.
  std::string b_typed;
  for (size_t i = 0; i < b.serial.size(); i += 2) {
    b_typed += (i == 0 ? "" : ":") + b.serial.substr(i, 2);
  }
  for (char& ch : b_typed) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  ASSERT_TRUE(ca::revoke_certificate(*home_, *store_, "root", b_typed, 0, kRequester));

  auto first = publish(ca::kDefaultCrlDays);
  ASSERT_TRUE(first) << first.error().message;
  const std::time_t after = std::time(nullptr);
  EXPECT_EQ(first->number, 1u);
  EXPECT_EQ(first->entries, 3u);
  EXPECT_EQ(first->next_update - first->this_update, 7 * 86400);

  Decoded d = decode(first->crl.get());
  ASSERT_TRUE(d.crl);
  EXPECT_EQ(d.version, X509_CRL_VERSION_2);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(d.crl.get()), X509_get_subject_name(ca_cert_.get())),
            0);
  EXPECT_EQ(d.number, 1u);
  EXPECT_EQ(d.number_critical, 0);
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca_cert_.get());
  ASSERT_NE(ski, nullptr);
  EXPECT_EQ(d.aki, hex_text(ski->data, static_cast<size_t>(ski->length)));
  EXPECT_EQ(d.aki_critical, 0);
  EXPECT_GE(d.last, before);
  EXPECT_LE(d.last, after);
  EXPECT_EQ(d.next - d.last, 7 * 86400);
  EXPECT_EQ(d.next, first->next_update);
  EXPECT_EQ(X509_CRL_get_ext_count(d.crl.get()), 2);  // cRLNumber and AKI, nothing else
  // Entries: a with keyCompromise, b with no reasonCode (unspecified), old with
  // cessationOfOperation, c absent; in the store's order (revocation time, then serial).
  EXPECT_EQ(d.reasons,
            (std::map<std::string, int>{{a.serial, 1}, {b.serial, -1}, {old.serial, 5}}));
  auto in_store = store_->revoked("root");
  ASSERT_TRUE(in_store) << in_store.error().message;
  std::vector<std::string> store_order;
  for (const auto& r : *in_store) store_order.push_back(r.serial);
  EXPECT_EQ(d.order, store_order);
  EXPECT_EQ(d.order.front(), old.serial);
  EXPECT_EQ(d.dates.at(old.serial), before - 3600);
  for (const auto& serial : {a.serial, b.serial}) {
    EXPECT_GE(d.dates.at(serial), before) << serial;
    EXPECT_LE(d.dates.at(serial), after) << serial;
  }
  // Signed in the token, verified with the CA certificate's public key (default provider).
  EXPECT_EQ(X509_CRL_verify(d.crl.get(), X509_get0_pubkey(ca_cert_.get())), 1);
  EXPECT_EQ(X509_CRL_get_signature_nid(d.crl.get()), NID_ecdsa_with_SHA256);
  // A relying party refuses the revoked leaf and accepts the other.
  EXPECT_EQ(verify_with_crl(leaves_.at(a.serial).get(), d.crl.get()), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verify_with_crl(leaves_.at(c.serial).get(), d.crl.get()), X509_V_OK);

  // The next CRL: number 2, its own next update, the same entries.
  auto second = publish(1);
  ASSERT_TRUE(second) << second.error().message;
  Decoded d2 = decode(second->crl.get());
  EXPECT_EQ(second->number, 2u);
  EXPECT_EQ(d2.number, 2u);
  EXPECT_EQ(d2.next - d2.last, 86400);
  EXPECT_EQ(d2.reasons, d.reasons);
  EXPECT_EQ(X509_CRL_verify(d2.crl.get(), X509_get0_pubkey(ca_cert_.get())), 1);

  // The audit log: intact, one line per revocation and per CRL, with their data.
  ASSERT_EQ(audit_lines(audit_path()), 5u);  // ca.created + 2 revoked + 2 published
  auto revoked = audit_events(audit_path(), "cert.revoked");
  ASSERT_EQ(revoked.size(), 2u);
  EXPECT_EQ(revoked[0], (nlohmann::json{{"ca", "root"},
                                        {"serial", a.serial},
                                        {"subject", "CN=a.example"},
                                        {"reason", "keyCompromise"},
                                        {"requester", kRequester}}));
  EXPECT_EQ(revoked[1]["serial"], b.serial);
  EXPECT_EQ(revoked[1]["reason"], "unspecified");
  auto published = audit_events(audit_path(), "crl.published");
  ASSERT_EQ(published.size(), 2u);
  int i = 0;
  for (const auto* result : {&*first, &*second}) {
    auto der = ca::encode_crl(result->crl.get(), /*der=*/true);
    EXPECT_EQ(published[i], (nlohmann::json{{"ca", "root"},
                                            {"number", result->number},
                                            {"entries", 3},
                                            {"next_update", result->next_update},
                                            {"sha256", ca::sha256_hex(*der)},
                                            {"requester", kRequester}}));
    ++i;
  }
}

TEST_F(RevocationCrl, AnEmptyCrlHasNoEntriesAndPemEncodes) {
  issue("kept.example");
  auto crl = publish(ca::kDefaultCrlDays);
  ASSERT_TRUE(crl) << crl.error().message;
  EXPECT_EQ(crl->entries, 0u);
  EXPECT_EQ(X509_CRL_get_REVOKED(crl->crl.get()), nullptr);
  auto pem = ca::encode_crl(crl->crl.get(), /*der=*/false);
  ASSERT_TRUE(pem);
  EXPECT_EQ(pem->rfind("-----BEGIN X509 CRL-----\n", 0), 0u) << *pem;
}

class RevocationCrlShortCa : public RevocationCrl {
 protected:
  int root_days() const override { return 2; }
};

TEST_F(RevocationCrlShortCa, NextUpdateNeverPassesTheCaCertificate) {
  auto crl = publish(30);
  ASSERT_TRUE(crl) << crl.error().message;
  EXPECT_EQ(crl->next_update, time_of(X509_get0_notAfter(ca_cert_.get())));
  EXPECT_EQ(time_of(X509_CRL_get0_nextUpdate(crl->crl.get())), crl->next_update);
}

TEST_F(RevocationCrl, RefusedRevocationsSayWhyAndAuditNothing) {
  auto a = issue("a.example");
  const size_t lines = audit_lines(audit_path());

  auto unknown = ca::revoke_certificate(*home_, *store_, "root", "0badbeef", 1, kRequester);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
  EXPECT_EQ(unknown.error().message, "no certificate with serial 0badbeef issued by CA 'root'");

  auto no_ca = ca::revoke_certificate(*home_, *store_, "other", a.serial, 1, kRequester);
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.error().kind, ErrorKind::not_found);
  EXPECT_NE(no_ca.error().message.find("no CA named 'other'"), std::string::npos)
      << no_ca.error().message;
  EXPECT_NE(no_ca.error().message.find("hwca ca list"), std::string::npos);

  for (int reason : {7, 8, 11, -1}) {
    auto bad = ca::revoke_certificate(*home_, *store_, "root", a.serial, reason, kRequester);
    ASSERT_FALSE(bad) << reason;
    EXPECT_EQ(bad.error().kind, ErrorKind::usage) << bad.error().message;
  }
  auto bad_serial = ca::revoke_certificate(*home_, *store_, "root", "not-hex", 1, kRequester);
  ASSERT_FALSE(bad_serial);
  EXPECT_EQ(bad_serial.error().kind, ErrorKind::usage);
  EXPECT_EQ(audit_lines(audit_path()), lines);
  EXPECT_FALSE((*store_->find("root", a.serial))->revoked);

  ASSERT_TRUE(ca::revoke_certificate(*home_, *store_, "root", a.serial, 4, kRequester));
  auto twice = ca::revoke_certificate(*home_, *store_, "root", a.serial, 1, kRequester);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::conflict);
  EXPECT_NE(twice.error().message.find("already revoked at 20"), std::string::npos)
      << twice.error().message;
  EXPECT_NE(twice.error().message.find("(superseded)"), std::string::npos) << twice.error().message;
  EXPECT_EQ(audit_lines(audit_path()), lines + 1);
  EXPECT_EQ((*store_->find("root", a.serial))->revocation_reason, 4);  // the first one stands

  auto no_crl = ca::publish_crl(*home_, *store_, *crypto_, "other", key_options(), 7, kRequester);
  ASSERT_FALSE(no_crl);
  EXPECT_EQ(no_crl.error().kind, ErrorKind::not_found);
  for (int days : {0, -1, 3651}) {
    auto bad_days = publish(days);
    ASSERT_FALSE(bad_days) << days;
    EXPECT_EQ(bad_days.error().kind, ErrorKind::usage);
  }
  EXPECT_EQ(audit_lines(audit_path()), lines + 1);
}

TEST_F(RevocationCrl, ACaKeyThatDoesNotMatchItsCertificateSignsNothing) {
  static const std::string other = make_key("crl-other", tokens::KeyType::ec_p256);
  ca::Config config = home_->config();
  config.cas.at("root").key = other;
  ASSERT_TRUE(home_->save(config));
  const size_t lines = audit_lines(audit_path());
  auto crl = publish(7);
  ASSERT_FALSE(crl);
  EXPECT_EQ(crl.error().kind, ErrorKind::conflict);
  EXPECT_NE(crl.error().message.find("the key " + other +
                                     " is not the key of CA 'root' (its public key differs "
                                     "from the certificate " +
                                     home_->path("cas/root/cert.pem")),
            std::string::npos)
      << crl.error().message;
  EXPECT_EQ(audit_lines(audit_path()), lines);
}

TEST_F(RevocationCrl, AReadOnlyDatabaseRefusesWithOneLineAndNoAuditLine) {
  auto a = issue("a.example");
  const size_t lines = audit_lines(audit_path());
  const std::string needle = "issuance database " + db_path() + " is read-only";

  // Opened read-only: refused in this process.
  auto ro = ca::SqliteIssuanceStore::open(db_path(), {.read_only = true});
  ASSERT_TRUE(ro) << ro.error().message;
  auto revoked = ca::revoke_certificate(*home_, **ro, "root", a.serial, 1, kRequester);
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().kind, ErrorKind::io);
  EXPECT_NE(revoked.error().message.find(needle), std::string::npos) << revoked.error().message;
  auto crl = ca::publish_crl(*home_, **ro, *crypto_, "root", key_options(), 7, kRequester);
  ASSERT_FALSE(crl);
  EXPECT_EQ(crl.error().kind, ErrorKind::io);
  EXPECT_NE(crl.error().message.find(needle), std::string::npos) << crl.error().message;
  ro->reset();

  // The file 0444 and the home 0555. As root, chmod does not bind, so this runs in a child
  // that dropped its capabilities. The store fails before the token is asked, so the child
  // never uses the parent's token sessions.
  store_.reset();
  ASSERT_EQ(::chmod(db_path().c_str(), 0444), 0);
  ASSERT_EQ(::chmod(home_->dir().c_str(), 0555), 0);
  std::string child = in_child([&]() -> std::string {
    if (!obey_file_modes()) return "SKIP";
    auto s = ca::SqliteIssuanceStore::open(db_path());
    if (!s) return "open: " + s.error().message;
    auto r = ca::revoke_certificate(*home_, **s, "root", a.serial, 1, kRequester);
    if (r) return "revoke succeeded";
    if (r.error().kind != ErrorKind::io || r.error().message.find(needle) == std::string::npos ||
        r.error().message.find('\n') != std::string::npos) {
      return "revoke: " + r.error().message;
    }
    auto c = ca::publish_crl(*home_, **s, *crypto_, "root", key_options(), 7, kRequester);
    if (c) return "publish_crl succeeded";
    if (c.error().kind != ErrorKind::io || c.error().message.find(needle) == std::string::npos) {
      return "publish_crl: " + c.error().message;
    }
    return "";
  });
  ASSERT_EQ(::chmod(home_->dir().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(db_path().c_str(), 0600), 0);
  if (child == "SKIP") GTEST_SKIP() << "running as root and capset() is not allowed";
  EXPECT_EQ(child, "");

  EXPECT_EQ(audit_lines(audit_path()), lines);  // nothing audited
  store_ = open_store();
  EXPECT_FALSE((*store_->find("root", a.serial))->revoked);
  auto after = publish(7);  // no CRL number was used up
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->number, 1u);
}

}  // namespace
}  // namespace hwca::test
