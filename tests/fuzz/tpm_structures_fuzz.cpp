// The TPM structures a node sends the CA in the attestation rounds (src/attest, as
// est_service_attest.cpp uses them, no TPM): the JSON messages of both rounds, TPM2B_PUBLIC
// (the EK's, the AK's, the certified key's), the EK certificate, TPMS_ATTEST and its
// TPMT_SIGNATURE. Input: five parts (fuzz_input.hpp): AK public, key public, attest,
// signature, expected extraData; an input that starts with '{' is also read as each JSON
// message. Beyond not crashing: a public area that parses has the Name of its bytes, and
// evidence verify_certify accepts names the key and carries the extraData expected.
#include <openssl/err.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "attest/certify_evidence.hpp"
#include "attest/ek_certificate.hpp"
#include "attest/make_credential.hpp"
#include "attest/protocol.hpp"
#include "attest/tpm_public.hpp"
#include "fuzz/fuzz_input.hpp"

namespace {

using hwca::fuzz::check;
namespace attest = hwca::attest;

// What round 1 does with an EK's public area or certificate: a credential for a Name.
void challenge(const attest::TpmPublic& ak, std::span<const uint8_t> ek_bytes) {
  if (auto ek = attest::ek_from_public(ak)) {
    static const uint8_t kSecret[32] = {1, 2, 3};
    (void)attest::make_credential(*ek, ak.name, kSecret);
  }
  if (auto cert = attest::parse_ek_certificate(ek_bytes)) {
    if (auto ek = attest::ek_from_certificate(cert->get())) {
      static const uint8_t kSecret[16] = {4, 5, 6};
      (void)attest::make_credential(*ek, ak.name, kSecret);
    }
  }
  (void)attest::parse_ek_public_key(ek_bytes);
}

void check_public(const attest::TpmPublic& pub) {
  auto name = attest::name_of(pub.area);
  check(name && *name == pub.name, "a public area whose Name is not that of its area");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text.front() == '{') {
    (void)attest::challenge_request_from_json(text);
    (void)attest::challenge_reply_from_json(text);
    (void)attest::enroll_request_from_json(text);
  }
  auto p = hwca::fuzz::parts(data, size, 5);
  auto ak = attest::parse_public(hwca::fuzz::bytes(p[0]));
  auto key = attest::parse_public(hwca::fuzz::bytes(p[1]));
  (void)attest::parse_certify_attest(hwca::fuzz::bytes(p[2]));
  if (ak) {
    check_public(*ak);
    (void)attest::is_attestation_key(ak->area);
    challenge(*ak, hwca::fuzz::bytes(p[0]));
  }
  if (key) {
    check_public(*key);
    (void)attest::certifiable_key(key->area);
  }
  if (ak && key) {
    auto ak_key = attest::attestation_key(ak->area);
    auto extra = hwca::fuzz::bytes(p[4]);
    auto ok = ak_key ? attest::verify_certify(hwca::fuzz::bytes(p[2]), hwca::fuzz::bytes(p[3]), *ak,
                                              ak_key->get(), *key, extra)
                     : attest::verify_certify(hwca::fuzz::bytes(p[2]), hwca::fuzz::bytes(p[3]), *ak,
                                              *key, extra);
    if (ok) {
      auto info = attest::parse_certify_attest(hwca::fuzz::bytes(p[2]));
      check(info.has_value(), "verified evidence that does not parse");
      const auto& certified = info->attested.certify.name;
      check(certified.size == key->name.size() &&
                std::equal(key->name.begin(), key->name.end(), certified.name),
            "verified evidence that names another key");
      check(info->extraData.size == extra.size() &&
                std::equal(extra.begin(), extra.end(), info->extraData.buffer),
            "verified evidence with other extraData");
    }
  }
  ERR_clear_error();
  return 0;
}
