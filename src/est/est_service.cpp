#include "est/est_service.hpp"

#include <chrono>
#include <ctime>

#include "ca/bootstrap_token.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/serial.hpp"
#include "ca/spki.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"
#include "est/node_policy.hpp"

namespace hwca::est {
namespace {

Reply text_reply(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = message + "\n";
  return r;
}

}  // namespace

EstService::EstService(ca::Issuer& issuer, ca::IssuanceStore& store, ca::NodeRegistry& registry,
                       ca::AuditTrail& audit, Metrics& metrics, OSSL_LIB_CTX* libctx,
                       std::vector<const X509*> chain)
    : issuer_(issuer),
      store_(store),
      registry_(registry),
      audit_(audit),
      metrics_(metrics),
      libctx_(libctx),
      group_(issuer) {
  auto body = certs_only_body(chain);
  if (body) cacerts_body_ = std::move(*body);
  set_log({});
  issuer_.on_audit_error([this](const Error& e) { audit_failed(e, "a refusal (cert.rejected)"); });
}

Reply EstService::cacerts() const {
  if (cacerts_body_.empty()) return text_reply(500, "the CA certificates cannot be encoded");
  Reply r;
  r.content_type = kCertsOnlyType;
  r.body = cacerts_body_;
  r.headers.emplace_back("Content-Transfer-Encoding", "base64");
  return r;
}

Reply EstService::csrattrs(const std::string& label) const {
  if (!profile_for_label(label)) return text_reply(404, "no EST label '" + bounded(label) + "'");
  auto body =
      csrattrs_body({{NID_ecdsa_with_SHA256}, NID_X9_62_id_ecPublicKey, NID_X9_62_prime256v1});
  if (!body) return text_reply(500, body.error().message);
  Reply r;
  r.content_type = kCsrAttrsType;
  r.body = std::move(*body);
  r.headers.emplace_back("Content-Transfer-Encoding", "base64");
  return r;
}

Result<EstService::Node> EstService::node_from_certificate(const X509* peer) {
  const std::string serial = ca::serial_hex(X509_get0_serialNumber(peer));
  std::string name = node_of_subject(X509_get_subject_name(peer));
  if (name.empty()) {
    return fail(ErrorKind::auth, "client certificate " + serial + " is not a node's");
  }
  auto record = store_.find(issuer_.ca_name(), serial);
  if (!record) return tl::unexpected(record.error());
  if (!*record || (*record)->der != ca::cert_der(peer)) {
    return fail(ErrorKind::auth, "client certificate " + serial + " was not issued by CA '" +
                                     issuer_.ca_name() + "'");
  }
  if ((*record)->profile != profile_name(NodeProfile::kubelet_client)) {
    return fail(ErrorKind::auth, "client certificate " + serial + " is a " + (*record)->profile +
                                     " certificate, not a kubelet client certificate");
  }
  if ((*record)->revoked) {
    return fail(ErrorKind::auth, "client certificate " + serial + " is revoked");
  }
  if ((*record)->not_after <= std::time(nullptr)) {
    return fail(ErrorKind::auth, "client certificate " + serial + " has expired");
  }
  Node node;
  node.name = std::move(name);
  node.via = "client certificate " + serial;
  auto addresses = registered_addresses(node.name);
  if (!addresses) return tl::unexpected(addresses.error());
  node.addresses = std::move(*addresses);
  return node;
}

Result<std::vector<std::string>> EstService::registered_addresses(const std::string& name) {
  if (tpms_ != nullptr) {
    auto tpm = tpms_->tpm(name);
    if (!tpm) return tl::unexpected(tpm.error());
    if (*tpm) return (*tpm)->addresses;
  }
  auto known = registry_.node(name);
  if (!known) return tl::unexpected(known.error());
  if (*known) return (*known)->addresses;
  return std::vector<std::string>{};
}

Reply EstService::enroll(Operation op, const std::string& label, std::string_view body,
                         const std::string& content_type, Caller& caller) {
  if (auto due = summary_.due()) write_summary(*due);
  auto profile = profile_for_label(label);
  if (!profile) return text_reply(404, "no EST label '" + bounded(label) + "'");
  auto refused = [&](int status, const std::string& reason, const std::string& message,
                     const std::string& node) {
    return refuse(status, reason, message, label, caller, node);
  };
  // Before a node is established: counted and summed up, not one audit line each.
  auto unauthenticated = [&](int status, const std::string& reason, const std::string& message) {
    return refuse_unauthenticated(status, reason, message, caller);
  };
  // Who is asking, before anything of the request is looked at.
  if (caller.peer == nullptr && op == Operation::reenroll) {
    return unauthenticated(
        401, "auth", "simplereenroll needs the node's current client certificate (mutual TLS)");
  }
  // A credential is issued on the strength of the TPM-bound certificate alone.
  if (caller.peer == nullptr && *profile == NodeProfile::kubelet_credential) {
    return unauthenticated(401, "auth",
                           "kubelet-credential needs the node's client certificate (mutual TLS)");
  }
  if (caller.peer == nullptr && !caller.has_basic) {
    return unauthenticated(401, "auth",
                           "authenticate with a bootstrap token (HTTP Basic: node name and "
                           "token) or the node's client certificate");
  }
  if (!is_media_type(content_type, kPkcs10Type)) {
    return unauthenticated(
        415, "content_type",
        "the request must be application/pkcs10, not '" + bounded(content_type, 64) + "'");
  }
  auto req = decode_pkcs10_body(body, libctx_);
  if (!req) return unauthenticated(400, "malformed", req.error().message);

  Node node;
  if (caller.peer != nullptr) {
    auto n = node_from_certificate(caller.peer);
    if (!n) {
      if (n.error().kind != ErrorKind::auth) return failed(n.error(), caller, "");
      return unauthenticated(401, "auth", n.error().message);
    }
    node = std::move(*n);
    if (op == Operation::reenroll && X509_NAME_cmp(X509_REQ_get_subject_name(req->get()),
                                                   X509_get_subject_name(caller.peer)) != 0) {
      return refused(403, "subject",
                     "a renewal must keep the subject of the client certificate (" +
                         bounded(ca::dn_text(X509_get_subject_name(caller.peer))) + ")",
                     node.name);
    }
  } else {
    const std::string& user = caller.basic_user;
    if (!ca::valid_node_name(user)) {
      return unauthenticated(401, "auth", "the HTTP Basic user must be the node's name");
    }
    if (tpms_ != nullptr && attest_options_.require) {
      return unauthenticated(403, "attestation_required",
                             "this CA enrolls nodes by TPM attestation only ('hwca-node enroll "
                             "--attest'): bootstrap tokens are refused");
    }
    auto id = ca::bootstrap_token_id(caller.basic_password.view());
    if (!id)
      return unauthenticated(401, "token", "the HTTP Basic password is not a bootstrap token");
    auto claimed = registry_.claim_token(
        *id, user, ca::bootstrap_token_hash(caller.basic_password.view()), std::time(nullptr));
    caller.basic_password.clear();
    if (!claimed) {
      if (claimed.error().kind != ErrorKind::auth) return failed(claimed.error(), caller, user);
      return unauthenticated(401, "token", claimed.error().message);
    }
    node.name = user;
    node.addresses = claimed->addresses;
    node.via = "bootstrap token " + *id;
    node.token_id = *id;
    // A node whose TPM is registered proves it holds that TPM, not a token.
    if (tpms_ != nullptr) {
      auto tpm = tpms_->tpm(user);
      if (!tpm || *tpm) (void)registry_.unclaim_token(*id);
      if (!tpm) return failed(tpm.error(), caller, user);
      if (*tpm) {
        return refused(403, "attestation_required",
                       "node '" + user +
                           "' has a registered TPM: it enrolls by TPM attestation only "
                           "('hwca-node enroll --attest'), not with a bootstrap token",
                       user);
      }
    }
  }
  return issue(node, req->get(), *profile, label, caller, {});
}

// What every enrollment ends with, once the node is established: the kubelet rules, the
// renewal's key, the compromised-key check, then the issuer and group commit.
Reply EstService::issue(Node& node, X509_REQ* req, NodeProfile profile, const std::string& label,
                        Caller& caller, std::optional<ca::SignRequest::Attestation> attestation) {
  // From here on a refusal gives the token back: nothing was issued for it.
  auto refused = [&](int status, const std::string& reason, const std::string& message,
                     const std::string& who) {
    return refuse(status, reason, message, label, caller, who);
  };
  auto give_back = [&] {
    if (!node.token_id.empty()) (void)registry_.unclaim_token(node.token_id);
  };
  if (auto ok = check_node_request(req, node.name, profile, node.addresses); !ok) {
    give_back();
    return refused(403, refusal_name(ok.error().reason), ok.error().message, node.name);
  }
  // A kubelet client certificate got with a client certificate is a renewal: for that
  // certificate's key (kept in the node's TPM), unless the CA lets renewals change keys.
  const bool renewal = caller.peer != nullptr && profile == NodeProfile::kubelet_client;
  // An attested key was proven to live in the node's TPM: it may replace the old one.
  if (renewal && !attestation && !issuer_.renewal_key_change() &&
      ca::spki_der(X509_REQ_get_X509_PUBKEY(req)) !=
          ca::spki_der(X509_get_X509_PUBKEY(caller.peer))) {
    return refused(403, "key",
                   "a renewal must be for the key of the client certificate; a new key needs a "
                   "fresh enrollment ('hwca-node enroll --new-key' with a bootstrap token) or "
                   "attestation ('hwca-node renew --new-key')",
                   node.name);
  }
  // Never again a key revoked for keyCompromise (asked here, not by the issuer, to answer it
  // apart). A failed lookup is an outage of the store, like the issuer's.
  auto compromised = issuer_.key_compromised(req);
  if (!compromised) {
    give_back();
    return failed(compromised.error(), caller, node.name);
  }
  if (*compromised) {
    give_back();
    return refused(403, "compromised",
                   ca::compromised_key_message(ca::spki_sha256(X509_REQ_get_X509_PUBKEY(req))) +
                       " ('hwca-node enroll --new-key', with a bootstrap token or --attest)",
                   node.name);
  }

  ca::SignRequest request;
  // The DER, as `hwca sign` sees it: the audit log's csr_sha256 of a refusal is the request's.
  unsigned char* der = nullptr;
  int der_len = i2d_X509_REQ(req, &der);
  if (der_len <= 0) {
    give_back();
    return failed(Error{ErrorKind::internal, "cannot encode the request"}, caller, node.name);
  }
  request.csr.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  request.parsed = req;
  request.source = "EST request from " + caller.address;
  request.profile = profile_name(profile);
  request.requester = "est:" + node.name + " (" + node.via + ")";
  if (renewal) request.renewed_from = ca::serial_hex(X509_get0_serialNumber(caller.peer));
  request.attestation = std::move(attestation);
  request.key_checked = true;
  const auto started = std::chrono::steady_clock::now();
  auto made = issuer_.sign_unrecorded(request);  // audits its own refusals, not outages
  Status committed;
  if (made) committed = group_.commit(request, *made);
  const Error* failure = !made ? &made.error() : !committed ? &committed.error() : nullptr;
  if (failure != nullptr) {
    give_back();
    if (failure->kind == ErrorKind::usage && failure->source == ErrorSource::other) {
      metrics_.rejected("profile");  // the request, against the profile: audited by the issuer
      return text_reply(400, bounded(failure->message, 1024));
    }
    return failed(*failure, caller, node.name);
  }
  metrics_.signing_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  auto out = certs_only_body({made->cert.get()});
  if (!out) return failed(out.error(), caller, node.name);
  metrics_.issued(request.profile);
  Reply r;
  r.content_type = kCertsOnlyType;
  r.body = std::move(*out);
  r.headers.emplace_back("Content-Transfer-Encoding", "base64");
  return r;
}

}  // namespace hwca::est
