// Seeds for the fuzz targets, made the way the tests make their inputs (support/test_csr.hpp,
// support/test_ca.hpp, unit/attest_keys.hpp: keys made now, in software, then thrown away).
//   hwca_fuzz_seeds --public DIR    requests, bodies, TPM structures and URIs: nothing
//                                   secret, committed under tests/fuzz/corpus (make_corpus.sh)
//   hwca_fuzz_seeds --runtime DIR   TSS2 key files (their private blob random bytes, which the
//                                   parser cannot tell from a TPM's): never committed
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attest/protocol.hpp"
#include "ca/home.hpp"
#include "common/base64.hpp"
#include "est/est_codec.hpp"
#include "fuzz/fuzz_input.hpp"
#include "support/test_ca.hpp"
#include "support/test_csr.hpp"
#include "tokens/tpm2/key_file.hpp"
#include "unit/attest_keys.hpp"

namespace {

namespace fs = std::filesystem;
namespace at = hwca::attest::test;
using hwca::test::NameEntry;

std::string dir_;

void put(const std::string& target, const std::string& name, std::string_view data) {
  fs::create_directories(dir_ + "/" + target);
  std::ofstream(dir_ + "/" + target + "/" + name, std::ios::binary) << data;
}

std::string framed(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += hwca::fuzz::kSeparator;
    out += parts[i];
  }
  return out;
}

std::string str(const at::Bytes& b) { return std::string(b.begin(), b.end()); }

std::string kubelet_csr(EVP_PKEY* key, const std::string& node) {
  auto subject = hwca::test::name_of({{"CN", "system:node:" + node}, {"O", "system:nodes"}});
  return hwca::test::csr_der(hwca::test::make_csr(key, subject.get()).get());
}

// Base64 in lines of 64, as EST clients send it.
std::string body_of(const std::string& der) {
  std::string b64 = hwca::base64_encode(der), out;
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out;
}

void requests() {
  auto p256 = hwca::test::ec_key("P-256");
  auto p384 = hwca::test::ec_key("P-384");
  auto p521 = hwca::test::ec_key("P-521");
  auto rsa = hwca::test::rsa_key(2048);
  auto ed = hwca::test::ed25519_key();
  const std::string kubelet = kubelet_csr(p256.get(), "fuzz-node");
  put("csr_fast_path", "kubelet-p256.der", kubelet);
  put("csr_fast_path", "kubelet-p384.der", kubelet_csr(p384.get(), "fuzz-node"));
  put("csr_fast_path", "p521.der",
      hwca::test::csr_der(hwca::test::simple_csr(p521.get(), "p521").get()));
  put("csr_fast_path", "rsa2048.der",
      hwca::test::csr_der(hwca::test::simple_csr(rsa.get(), "rsa").get()));
  auto ed_subject = hwca::test::name_of({{"CN", "ed25519"}});
  put("csr_fast_path", "ed25519.der",
      hwca::test::csr_der(hwca::test::make_csr(ed.get(), ed_subject.get(), {}, nullptr).get()));
  put("csr_fast_path", "server-sans.der",
      hwca::test::csr_der(
          hwca::test::simple_csr(p256.get(), "www.example", "DNS:www.example,IP:10.0.0.1").get()));
  std::string bad = kubelet;
  bad[bad.size() - 3] ^= 0x01;  // in the signature
  put("csr_fast_path", "bad-signature.der", bad);

  put("est_codec", "body.b64", body_of(kubelet));
  put("est_codec", "body-crlf.b64", hwca::base64_encode(kubelet) + "\r\n");
  put("est_codec", "basic.txt",
      "Basic " + hwca::base64_encode("fuzz-node:abcdef.0123456789abcdefghijklmnopqrstuv"));
  put("est_codec", "content-type.txt", "Application/PKCS10; charset=us-ascii");
  auto ca_key = hwca::test::software_key();
  auto ca_cert = hwca::test::certificate("seed CA", ca_key.get(), nullptr, ca_key.get());
  put("est_codec", "certs-only.b64", *hwca::est::certs_only_body({ca_cert.get()}));

  const std::string enroll = "/.well-known/est/simpleenroll";
  const std::string basic = "X-Fuzz-Basic: fuzz-node:@TOKEN@\n";
  put("est_request", "simpleenroll",
      framed({"POST", enroll, basic + "Content-Type: application/pkcs10", body_of(kubelet)}));
  put("est_request", "simpleenroll-label",
      framed(
          {"POST", "/.well-known/est/kubelet-serving/simpleenroll",
           basic + "Content-Type: application/pkcs10\nContent-Transfer-Encoding: base64",
           body_of(hwca::test::csr_der(hwca::test::simple_csr(p256.get(), "system:node:fuzz-node",
                                                              "DNS:fuzz-node,IP:10.0.0.5")
                                           .get()))}));
  put("est_request", "simpleenroll-wrong-token",
      framed({"POST", enroll,
              "X-Fuzz-Basic: fuzz-node:abcdef.0123456789abcdefghijklmnopqrstuv\nContent-Type: "
              "application/pkcs10",
              body_of(kubelet)}));
  put("est_request", "simplereenroll",
      framed({"POST", "/.well-known/est/simplereenroll", "Content-Type: application/pkcs10",
              body_of(kubelet)}));
  put("est_request", "chunked",
      framed({"POST", enroll,
              basic + "Content-Type: application/pkcs10\nTransfer-Encoding: chunked",
              "10\r\n" + body_of(kubelet).substr(0, 16) + "\r\n0\r\n\r\n"}));
  put("est_request", "cacerts", framed({"GET", "/.well-known/est/cacerts", "Accept: */*", ""}));
  put("est_request", "csrattrs", framed({"GET", "/.well-known/est/csrattrs", "", ""}));
  put("est_request", "csrattrs-label",
      framed({"GET", "/.well-known/est/kubelet/csrattrs", "", ""}));
  put("est_request", "healthz", framed({"GET", "/healthz", "", ""}));
  put("est_request", "metrics", framed({"GET", "/metrics", "", ""}));
  put("est_request", "multipart",
      framed({"POST", enroll, "Content-Type: multipart/form-data; boundary=x", "--x--\r\n"}));
}

void tpm() {
  auto ak = at::ec_key();
  auto key = at::ec_key();
  auto ak_area = at::area_of(ak.get(), at::kAkAttrs);
  auto key_area = at::area_of(key.get(), at::kKeyAttrs);
  const at::Bytes extra(32, 0x5a);
  const at::Bytes attest = at::marshal_attest(at::certify_info(at::name_sha256(key_area), extra));
  put("tpm_structures", "certify-ecc",
      framed({str(at::marshal_public(ak_area)), str(at::marshal_public(key_area)), str(attest),
              str(at::sign(ak.get(), attest)), str(extra)}));
  auto rsa_ak = at::rsa_key();
  auto rsa_ak_area = at::area_of(rsa_ak.get(), at::kAkAttrs);
  put("tpm_structures", "certify-rsa-ak",
      framed({str(at::marshal_public(rsa_ak_area)), str(at::marshal_public(key_area)), str(attest),
              str(at::sign(rsa_ak.get(), attest)), str(extra)}));
  auto ek = at::rsa_key();
  hwca::attest::ChallengeRequest challenge;
  challenge.node = "fuzz-node";
  challenge.ek_public = at::marshal_public(at::area_of(ek.get(), at::kEkAttrs));
  challenge.ak_public = at::marshal_public(ak_area);
  put("tpm_structures", "challenge.json", hwca::attest::to_json(challenge));
  put("tpm_structures", "ek-public-rsa", str(challenge.ek_public));
  hwca::attest::EnrollRequest enroll;
  enroll.node = "fuzz-node";
  enroll.nonce = at::Bytes(hwca::attest::kNonceSize, 1);
  enroll.secret = at::Bytes(16, 2);
  enroll.csr = at::Bytes(32, 3);
  enroll.key_public = at::marshal_public(key_area);
  enroll.certify_info = attest;
  enroll.certify_signature = at::sign(ak.get(), attest);
  put("tpm_structures", "enroll.json", hwca::attest::to_json(enroll));
}

void uris() {
  const char* seeds[] = {
      "pkcs11:token=ca;object=root",
      "pkcs11:token=hwca%20test;object=est-server-ca;type=private?pin-source=env:HWCA_PIN",
      "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=1234;id=%01%02?module-path=/"
      "usr/lib/softhsm/libsofthsm2.so",
      "pkcs11:slot-id=3;object=k;x-vendor=1?pin-source=file:/run/pin&module-name=softhsm2",
      "tpm2:file=/etc/hwca/root.tpmkey",
      "tpm2:file=k.pem;type=private?pin-source=env:TPM_PIN",
      "tpm2:handle=0x81000010",
      "tpm2:handle=0x81000002;type=public",
  };
  int i = 0;
  for (const char* s : seeds) put("uri", "uri-" + std::to_string(i++), s);
}

void profiles() {
  hwca::ca::Config config;
  hwca::ca::CaEntry root;
  root.key = "pkcs11:token=ca;object=root";
  root.cert = "cas/root/cert.pem";
  hwca::ca::CaEntry sub;
  sub.key = "tpm2:file=/etc/hwca/sub.tpmkey";
  sub.cert = "cas/sub/cert.pem";
  sub.parent = "root";
  sub.renewal_key_change = true;
  sub.urls.crl = {"http://ca.example/sub.crl"};
  config.cas = {{"root", root}, {"sub", sub}};
  const std::string text = hwca::ca::emit_config(config);
  put("profile_yaml", "config.yaml", text);
  // The home's own profile sign_hwca_issue.sh appends to its config.yaml.
  put("profile_yaml", "config-profiles.yaml", text + R"(profiles:
  web:
    base: server
    description: public web servers, EC P-256 only
    sans: [dns]
    allowWildcard: true
    maxSans: 2
    days: 30
    maxDays: 60
    keys: {rsa: false, ecCurves: [P-256]}
)");
}

// A key file as hwca writes one: the public area of a software key, a random private blob.
void key_files() {
  auto key = at::ec_key();
  hwca::tokens::tpm2::KeyFile file;
  const at::Bytes pub = at::marshal_public(at::area_of(key.get(), at::kKeyAttrs));
  size_t offset = 0;
  Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub.data(), pub.size(), &offset, &file.pub);
  file.priv.size = 126;  // an ECC key's private blob from swtpm
  RAND_bytes(file.priv.buffer, file.priv.size);
  auto pem = hwca::tokens::tpm2::key_file_pem(file);
  if (!pem) throw std::runtime_error(pem.error().message);
  put("tss2_key_file", "ecc.pem", *pem);
  std::string body;
  for (size_t at = pem->find('\n') + 1; at < pem->size() && (*pem)[at] != '-';
       at = pem->find('\n', at) + 1) {
    body += pem->substr(at, pem->find('\n', at) - at);
  }
  put("tss2_key_file", "ecc.der", *hwca::base64_decode(body));
  file.empty_auth = false;
  file.parent = 0x81000001;
  file.description = "fuzz";
  put("tss2_key_file", "ecc-auth-persistent-parent.pem", *hwca::tokens::tpm2::key_file_pem(file));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "--public" && mode != "--runtime") {
    std::fprintf(stderr, "usage: hwca_fuzz_seeds --public|--runtime DIR\n");
    return 2;
  }
  dir_ = argv[2];
  try {
    if (mode == "--public") {
      requests();
      tpm();
      uris();
      profiles();
    } else {
      key_files();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
