// EstService: enrollment by TPM attestation, in two rounds (docs/attestation.md).
//
// Round 1 proves nothing about the caller (an EK certificate is public), so its refusals,
// and those of round 2 until the activated secret matches, are counted and summed up like
// any unauthenticated request's. Once the secret matches, the caller has shown it holds the
// registered TPM: a refusal after that is audited on its own line (label "attest").
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "attest/certify_evidence.hpp"
#include "attest/ek_certificate.hpp"
#include "attest/make_credential.hpp"
#include "attest/protocol.hpp"
#include "ca/bootstrap_token.hpp"
#include "ca/csr.hpp"
#include "ca/serial.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"
#include "est/est_service.hpp"

namespace hwca::est {
namespace {

constexpr const char* kLabel = "attest";
constexpr size_t kSecretSize = 32;

Reply text_reply(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = message + "\n";
  return r;
}

std::string hex(const attest::Bytes& bytes) { return hex_text(bytes.data(), bytes.size()); }

// The EK a challenge request presents: its MakeCredential parameters (from its public
// area when given: that is the TPM's own word; else the certificate's template), its
// registry digest, and its certificate if one came.
struct PresentedEk {
  attest::EkPublic params;
  std::string sha256;
  ossl::Ptr<X509> cert;
};

attest::Checked<PresentedEk> presented_ek(const attest::ChallengeRequest& m) {
  PresentedEk ek;
  if (!m.ek_certificate.empty()) {
    auto cert = attest::parse_ek_certificate(m.ek_certificate);
    if (!cert) return attest::refuse(attest::Reason::malformed, cert.error().message);
    ek.cert = std::move(*cert);
  }
  if (!m.ek_public.empty()) {
    auto area = attest::parse_public(m.ek_public);
    if (!area) return tl::unexpected(area.error());
    auto params = attest::ek_from_public(*area);
    if (!params) return tl::unexpected(params.error());
    ek.params = std::move(*params);
    if (ek.cert && EVP_PKEY_eq(X509_get0_pubkey(ek.cert.get()), ek.params.key.get()) != 1) {
      return attest::refuse(attest::Reason::malformed,
                            "the EK public area and the EK certificate are not the same key");
    }
  } else {
    auto params = attest::ek_from_certificate(ek.cert.get());
    if (!params) return tl::unexpected(params.error());
    ek.params = std::move(*params);
  }
  ek.sha256 = attest::ek_spki_sha256(ek.params.key.get());
  if (ek.sha256.empty())
    return attest::refuse(attest::Reason::malformed, "the EK cannot be encoded");
  return ek;
}

const char* miss_reason(ChallengeStore::Miss miss) {
  switch (miss) {
    case ChallengeStore::Miss::expired:
      return "nonce_expired";
    case ChallengeStore::Miss::reused:
      return "nonce_reused";
    case ChallengeStore::Miss::superseded:
      return "nonce_superseded";
    case ChallengeStore::Miss::unknown:
      break;
  }
  return "nonce_unknown";
}

const char* miss_text(ChallengeStore::Miss miss) {
  switch (miss) {
    case ChallengeStore::Miss::expired:
      return "the challenge expired before it was answered: ask for a new one";
    case ChallengeStore::Miss::reused:
      return "the challenge was answered already: a nonce is good once";
    case ChallengeStore::Miss::superseded:
      return "the challenge was replaced by newer ones for the node: answer the latest";
    case ChallengeStore::Miss::unknown:
      break;
  }
  return "unknown nonce: no such challenge was given";
}

std::string refusal_reason(const attest::Refusal& r) {
  return std::string("attest_") + attest::reason_name(r.reason);
}

}  // namespace

void EstService::enable_attestation(ca::TpmRegistry& tpms, AttestationOptions options) {
  tpms_ = &tpms;
  attest_options_ = options;
  challenges_ = std::make_unique<ChallengeStore>(options.nonce_ttl, options.challenges_per_node);
}

std::optional<Reply> EstService::attest_refused_early(const std::string& content_type,
                                                      const Caller& caller, const char* what) {
  if (tpms_ == nullptr) return text_reply(404, "TPM attestation is not served here");
  if (auto due = summary_.due()) write_summary(*due);
  if (!is_media_type(content_type, attest::kJsonType)) {
    return refuse_unauthenticated(415, "content_type",
                                  std::string("the ") + what + " must be application/json, not '" +
                                      bounded(content_type, 64) + "'",
                                  caller);
  }
  return std::nullopt;
}

Reply EstService::attest_challenge(std::string_view body, const std::string& content_type,
                                   Caller& caller) {
  if (auto early = attest_refused_early(content_type, caller, "challenge request")) return *early;
  auto unauthenticated = [&](int status, const std::string& reason, const std::string& message) {
    return refuse_unauthenticated(status, reason, message, caller);
  };
  auto m = attest::challenge_request_from_json(body);
  if (!m) return unauthenticated(400, "malformed", m.error().message);
  if (!ca::valid_node_name(m->node)) {
    return unauthenticated(400, "malformed", "'" + bounded(m->node) + "' is not a node name");
  }
  // With a client certificate (a renewal with a new key), it must be this node's.
  std::string client_serial;
  if (caller.peer != nullptr) {
    auto n = node_from_certificate(caller.peer);
    if (!n) {
      if (n.error().kind != ErrorKind::auth) return failed(n.error(), caller, "");
      return unauthenticated(401, "auth", n.error().message);
    }
    if (n->name != m->node) {
      return unauthenticated(
          403, "auth",
          "the client certificate is node '" + n->name + "''s, not '" + bounded(m->node) + "''s");
    }
    client_serial = ca::serial_hex(X509_get0_serialNumber(caller.peer));
  }
  auto ek = presented_ek(*m);
  if (!ek) return unauthenticated(400, refusal_reason(ek.error()), "EK: " + ek.error().message);
  auto registered = tpms_->tpm(m->node);
  if (!registered) return failed(registered.error(), caller, m->node);
  if (!*registered || (*registered)->ek_sha256 != ek->sha256) {
    return unauthenticated(403, "ek_not_registered",
                           "this EK (SHA-256 " + ek->sha256 +
                               ") is not the one registered for node '" + m->node +
                               "' ('hwca node register')");
  }
  if (ek->cert) {
    auto roots = tpms_->ek_roots();
    if (!roots) return failed(roots.error(), caller, m->node);
    if (!roots->empty()) {
      std::vector<ossl::Ptr<X509>> held;
      std::vector<X509*> anchors, intermediates;
      for (const auto& root : *roots) {
        const unsigned char* p = root.der.data();
        ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(root.der.size())));
        if (!cert) continue;  // the registry checked it when it was added
        (root.anchor ? anchors : intermediates).push_back(cert.get());
        held.push_back(std::move(cert));
      }
      if (auto ok = attest::verify_ek_chain(ek->cert.get(), anchors, intermediates); !ok) {
        return unauthenticated(403, "ek_untrusted", ok.error().message);
      }
    }
  }
  auto ak = attest::parse_public(m->ak_public);
  if (!ak) return unauthenticated(400, refusal_reason(ak.error()), "AK: " + ak.error().message);
  auto ak_key = attest::attestation_key(ak->area);
  if (!ak_key) {
    return unauthenticated(403, refusal_reason(ak_key.error()), "AK: " + ak_key.error().message);
  }
  Challenge challenge{m->node,
                      ek->sha256,
                      *ak,
                      std::shared_ptr<EVP_PKEY>(ak_key->release(), EVP_PKEY_free),
                      attest::Bytes(kSecretSize),
                      client_serial};
  if (RAND_bytes(challenge.secret.data(), static_cast<int>(kSecretSize)) != 1) {
    return failed(Error{ErrorKind::internal, "no random bytes for a credential"}, caller, m->node);
  }
  auto credential = attest::make_credential(ek->params, ak->name, challenge.secret);
  if (!credential) return failed(credential.error(), caller, m->node);
  auto nonce = challenges_->add(std::move(challenge));
  if (!nonce) return failed(nonce.error(), caller, m->node);
  attest::ChallengeReply reply{std::move(*nonce), std::move(credential->id_object),
                               std::move(credential->encrypted_secret), challenges_->ttl().count()};
  Reply r;
  r.content_type = attest::kJsonType;
  r.body = attest::to_json(reply);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Reply EstService::attest_enroll(std::string_view body, const std::string& content_type,
                                Caller& caller) {
  if (auto early = attest_refused_early(content_type, caller, "enroll request")) return *early;
  auto unauthenticated = [&](int status, const std::string& reason, const std::string& message) {
    return refuse_unauthenticated(status, reason, message, caller);
  };
  auto m = attest::enroll_request_from_json(body);
  if (!m) return unauthenticated(400, "malformed", m.error().message);
  auto challenge = challenges_->take(m->nonce);
  if (!challenge) {
    return unauthenticated(401, miss_reason(challenge.error()), miss_text(challenge.error()));
  }
  if (challenge->node != m->node) {
    return unauthenticated(401, "nonce_node",
                           "the challenge was given to node '" + challenge->node + "', not '" +
                               bounded(m->node) + "'");
  }
  const std::string client_serial =
      caller.peer != nullptr ? ca::serial_hex(X509_get0_serialNumber(caller.peer)) : "";
  if (client_serial != challenge->client_serial) {
    return unauthenticated(401, "auth",
                           "answer the challenge with the client certificate it was asked with");
  }
  if (m->secret.size() != challenge->secret.size() ||
      CRYPTO_memcmp(m->secret.data(), challenge->secret.data(), m->secret.size()) != 0) {
    return unauthenticated(401, "attest_activation",
                           "the secret does not match the challenge: the AK is not in the TPM "
                           "registered for node '" +
                               challenge->node + "'");
  }
  // The caller holds the registered TPM: refusals from here on are audited one by one.
  const std::string& node_name = challenge->node;
  auto refused = [&](int status, const std::string& reason, const std::string& message) {
    return refuse(status, reason, message, kLabel, caller, node_name);
  };
  auto key = attest::parse_public(m->key_public);
  if (!key) return refused(400, refusal_reason(key.error()), "key: " + key.error().message);
  auto certified = attest::certifiable_key(key->area);
  if (!certified) {
    return refused(403, refusal_reason(certified.error()), "key: " + certified.error().message);
  }
  auto req =
      ca::parse_csr(std::string_view(reinterpret_cast<const char*>(m->csr.data()), m->csr.size()),
                    "the attested request", libctx_);
  if (!req) return refused(400, "malformed", req.error().message);
  if (auto ok = attest::verify_certify(m->certify_info, m->certify_signature, challenge->ak,
                                       challenge->ak_key.get(), *key,
                                       attest::qualifying_data(m->nonce, m->csr));
      !ok) {
    return refused(403, refusal_reason(ok.error()), "certify: " + ok.error().message);
  }
  if (EVP_PKEY_eq(X509_REQ_get0_pubkey(req->get()), certified->get()) != 1) {
    ERR_clear_error();
    return refused(403, "attest_key_mismatch", "the request is not for the key the TPM certified");
  }
  Node node;
  node.name = node_name;
  node.via = "TPM attestation, EK " + challenge->ek_sha256.substr(0, 16);
  if (caller.peer != nullptr) {
    // Checked again: the certificate may have been revoked since round 1.
    auto n = node_from_certificate(caller.peer);
    if (!n) {
      if (n.error().kind != ErrorKind::auth) return failed(n.error(), caller, node_name);
      return refused(401, "auth", n.error().message);
    }
    node.addresses = std::move(n->addresses);
  } else {
    auto addresses = registered_addresses(node_name);
    if (!addresses) return failed(addresses.error(), caller, node_name);
    node.addresses = std::move(*addresses);
  }
  return issue(
      node, req->get(), NodeProfile::kubelet_client, kLabel, caller,
      ca::SignRequest::Attestation{challenge->ek_sha256, hex(challenge->ak.name), hex(key->name)});
}

}  // namespace hwca::est
