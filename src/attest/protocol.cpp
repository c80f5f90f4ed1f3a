#include "attest/protocol.hpp"

#include <nlohmann/json.hpp>

#include "common/base64.hpp"
#include "common/result.hpp"

namespace hwca::attest {
namespace {

using nlohmann::json;

// Bounds on each field, decoded: far above what a TPM makes (a TPM2B is at most 64 KiB, a
// kubelet request a few hundred bytes), so that one request cannot make the CA hold much.
constexpr size_t kMaxTpmField = 2048;
constexpr size_t kMaxDer = 16 * 1024;
constexpr size_t kMaxNodeName = 253;

std::string b64(const Bytes& bytes) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// Reads the fields of one JSON object, the first failure kept.
class Reader {
 public:
  explicit Reader(std::string_view text, const char* what) : what_(what) {
    doc_ = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc_.is_object()) fail_ = "the " + std::string(what) + " is not a JSON object";
  }

  std::string text(const char* field, size_t max) {
    const json* v = find(field, /*required=*/true);
    if (v == nullptr) return {};
    const std::string* s = v->get_ptr<const std::string*>();
    if (s == nullptr || s->empty() || s->size() > max) {
      wrong(field, "a string of 1 to " + std::to_string(max) + " characters");
      return {};
    }
    return *s;
  }

  Bytes bytes(const char* field, size_t max, bool required = true) {
    const json* v = find(field, required);
    if (v == nullptr) return {};
    const std::string* s = v->get_ptr<const std::string*>();
    auto decoded = s != nullptr ? base64_decode(*s) : std::nullopt;
    if (!decoded || decoded->empty() || decoded->size() > max) {
      wrong(field, "standard base64 of 1 to " + std::to_string(max) + " bytes");
      return {};
    }
    return Bytes(decoded->begin(), decoded->end());
  }

  int64_t integer(const char* field) {
    const json* v = find(field, true);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) {
      wrong(field, "an integer");
      return 0;
    }
    return v->get<int64_t>();
  }

  void check(bool ok, const std::string& message) {
    if (fail_.empty() && !ok) fail_ = message;
  }

  template <typename T>
  Checked<T> result(T value) const {
    if (!fail_.empty()) return refuse(Reason::malformed, fail_);
    return value;
  }

 private:
  const json* find(const char* field, bool required) {
    if (!fail_.empty()) return nullptr;
    auto it = doc_.find(field);
    if (it == doc_.end() || it->is_null()) {
      if (required) fail_ = "the " + std::string(what_) + " has no '" + field + "'";
      return nullptr;
    }
    return &*it;
  }
  void wrong(const char* field, const std::string& expected) {
    if (fail_.empty()) fail_ = "'" + std::string(field) + "' in the " + what_ + " must be " + expected;
  }

  const char* what_;
  json doc_;
  std::string fail_;
};

}  // namespace

Bytes qualifying_data(std::span<const uint8_t> nonce, std::span<const uint8_t> csr_der) {
  Bytes joined(nonce.begin(), nonce.end());
  joined.insert(joined.end(), csr_der.begin(), csr_der.end());
  auto d = digest(TPM2_ALG_SHA256, joined);
  return d ? *d : Bytes{};
}

std::string to_json(const ChallengeRequest& m) {
  json j = {{"node", m.node}, {"ak_public", b64(m.ak_public)}};
  if (!m.ek_certificate.empty()) j["ek_certificate"] = b64(m.ek_certificate);
  if (!m.ek_public.empty()) j["ek_public"] = b64(m.ek_public);
  return j.dump();
}

std::string to_json(const ChallengeReply& m) {
  return json{{"nonce", b64(m.nonce)},
              {"credential_blob", b64(m.credential_blob)},
              {"encrypted_secret", b64(m.encrypted_secret)},
              {"expires_in", m.expires_in}}
      .dump();
}

std::string to_json(const EnrollRequest& m) {
  return json{{"node", m.node},
              {"nonce", b64(m.nonce)},
              {"secret", b64(m.secret)},
              {"csr", b64(m.csr)},
              {"key_public", b64(m.key_public)},
              {"certify_info", b64(m.certify_info)},
              {"certify_signature", b64(m.certify_signature)}}
      .dump();
}

Checked<ChallengeRequest> challenge_request_from_json(std::string_view text) {
  Reader r(text, "challenge request");
  ChallengeRequest m;
  m.node = r.text("node", kMaxNodeName);
  m.ek_certificate = r.bytes("ek_certificate", kMaxDer, /*required=*/false);
  m.ek_public = r.bytes("ek_public", kMaxTpmField, /*required=*/false);
  m.ak_public = r.bytes("ak_public", kMaxTpmField);
  r.check(!m.ek_certificate.empty() || !m.ek_public.empty(),
          "the challenge request has neither 'ek_certificate' nor 'ek_public'");
  return r.result(std::move(m));
}

Checked<ChallengeReply> challenge_reply_from_json(std::string_view text) {
  Reader r(text, "challenge");
  ChallengeReply m;
  m.nonce = r.bytes("nonce", kNonceSize);
  m.credential_blob = r.bytes("credential_blob", kMaxTpmField);
  m.encrypted_secret = r.bytes("encrypted_secret", kMaxTpmField);
  m.expires_in = r.integer("expires_in");
  r.check(m.nonce.size() == kNonceSize,
          "'nonce' in the challenge must be " + std::to_string(kNonceSize) + " bytes");
  return r.result(std::move(m));
}

Checked<EnrollRequest> enroll_request_from_json(std::string_view text) {
  Reader r(text, "enroll request");
  EnrollRequest m;
  m.node = r.text("node", kMaxNodeName);
  m.nonce = r.bytes("nonce", kNonceSize);
  m.secret = r.bytes("secret", 64);
  m.csr = r.bytes("csr", kMaxDer);
  m.key_public = r.bytes("key_public", kMaxTpmField);
  m.certify_info = r.bytes("certify_info", kMaxTpmField);
  m.certify_signature = r.bytes("certify_signature", kMaxTpmField);
  r.check(m.nonce.size() == kNonceSize,
          "'nonce' in the enroll request must be " + std::to_string(kNonceSize) + " bytes");
  return r.result(std::move(m));
}

}  // namespace hwca::attest
