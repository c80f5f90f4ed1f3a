// Revocation reasons, serials as users type them, and revoking a certificate; the CRL itself
// is built in crl.cpp.
#include "ca/revocation.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

#include "ca/audit_trail.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

// RFC 5280 5.3.1, indexed by code; 7 is unused.
constexpr std::array<const char*, 11> kReasonNames = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", nullptr,
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise"};

// The reasons a certificate may be revoked with (removeFromCRL only appears in delta CRLs).
bool revocation_reason(int reason) { return valid_crl_reason(reason) && reason != 8; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string valid_reasons() {
  std::string out;
  for (int code = 0; code < static_cast<int>(kReasonNames.size()); ++code) {
    if (!revocation_reason(code)) continue;
    out += (out.empty() ? "" : ", ") + std::string(kReasonNames[static_cast<size_t>(code)]);
  }
  return out + " (or their numbers 0-6, 9, 10)";
}

}  // namespace

Result<int> parse_crl_reason(const std::string& text) {
  int code = -1;
  if (!text.empty() && text.size() <= 2 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    code = std::stoi(text);
  } else {
    for (size_t i = 0; i < kReasonNames.size(); ++i) {
      if (kReasonNames[i] != nullptr && lower(text) == lower(kReasonNames[i])) {
        code = static_cast<int>(i);
      }
    }
  }
  if (code == 8) {
    return fail(ErrorKind::usage,
                "revocation reason removeFromCRL (8) belongs in delta CRLs, which hwca does not "
                "issue; use one of: " +
                    valid_reasons());
  }
  if (!revocation_reason(code)) {
    return fail(ErrorKind::usage,
                "'" + printable(text) +
                    "' is not an RFC 5280 revocation reason; use one of: " + valid_reasons());
  }
  return code;
}

std::string crl_reason_name(int reason) {
  if (reason >= 0 && reason < static_cast<int>(kReasonNames.size()) &&
      kReasonNames[static_cast<size_t>(reason)] != nullptr) {
    return kReasonNames[static_cast<size_t>(reason)];
  }
  return "reason " + std::to_string(reason);
}

namespace {

// What revoking `serial` needs first: a revocation reason, the CA in the home, the
// certificate in the store, and not a root's own record.
Result<IssuedCert> revocable(Home& home, IssuanceStore& store, const std::string& ca,
                             const std::string& serial, int reason) {
  if (!revocation_reason(reason)) {
    return fail(ErrorKind::usage, "revocation reason " + std::to_string(reason) +
                                      " is not one of: " + valid_reasons());
  }
  if (home.config().cas.count(ca) == 0) {
    return fail(ErrorKind::not_found,
                "no CA named '" + printable(ca) + "' in " + home.dir() + " (see 'hwca ca list')");
  }
  auto key = normalise_serial(serial);
  if (!key) return tl::unexpected(key.error());
  const std::string label = serial_label(serial, *key);
  auto found = store.find(ca, *key);
  if (!found) return tl::unexpected(found.error());
  if (!found->has_value()) {
    return fail(ErrorKind::not_found,
                "no certificate with serial " + label + " issued by CA '" + printable(ca) + "'");
  }
  if ((*found)->profile == "root-ca") {
    // A root's own record: a CRL signed by the root cannot revoke the root.
    return fail(ErrorKind::usage, "certificate " + label + " is root CA '" + printable(ca) +
                                      "' itself; a root cannot revoke itself: take it out of "
                                      "the trust stores instead");
  }
  return std::move(**found);
}

nlohmann::json revoked_event(const IssuedCert& cert, int reason, const std::string& requester) {
  return {{"ca", cert.ca},
          {"serial", cert.serial},
          {"subject", cert.subject},
          {"reason", crl_reason_name(reason)},
          {"requester", requester}};
}

}  // namespace

Status revoke_certificate(Home& home, IssuanceStore& store, const std::string& ca,
                          const std::string& serial, int reason, const std::string& requester) {
  auto found = revocable(home, store, ca, serial, reason);
  if (!found) return tl::unexpected(found.error());
  const IssuedCert& cert = *found;
  const std::string& key = cert.serial;
  const std::string label = serial_label(serial, key);
  if (cert.revoked) {
    return fail(ErrorKind::conflict, "certificate " + label + " of CA '" + printable(ca) +
                                         "' was already revoked at " + utc_text(cert.revoked_at) +
                                         " (" + crl_reason_name(cert.revocation_reason) + ")");
  }
  const auto now = static_cast<int64_t>(std::time(nullptr));
  if (auto ok = store.revoke(ca, key, reason, now); !ok) {
    return wrap(ok.error(), "certificate " + label + " of CA '" + ca + "' not revoked");
  }
  auto audit_trail = open_audit(home);
  AuditTrail& audit = *audit_trail;
  if (auto ok = audit.append("cert.revoked", revoked_event(cert, reason, requester)); !ok) {
    // The revocation stands (it is the safe side) and will be in the next CRL.
    return wrap(ok.error(), "certificate " + label + " of CA '" + ca +
                                "' is revoked in the issuance database, but the audit log did "
                                "not record it");
  }
  return {};
}

Result<std::vector<IssuedCert>> revoke_with_renewals(Home& home, IssuanceStore& store,
                                                     const std::string& ca,
                                                     const std::string& serial, int reason,
                                                     const std::string& requester) {
  auto found = revocable(home, store, ca, serial, reason);
  if (!found) return tl::unexpected(found.error());
  const std::string& key = found->serial;
  const auto now = static_cast<int64_t>(std::time(nullptr));
  auto revoked = store.revoke_with_renewals(ca, key, reason, now);
  if (!revoked) {
    return wrap(revoked.error(),
                "certificate " + serial_label(serial, key) + " of CA '" + ca + "' not revoked");
  }
  std::vector<AuditTrail::Event> events;
  for (const auto& cert : *revoked) {
    nlohmann::json data = revoked_event(cert, reason, requester);
    if (cert.serial != key) data["renewal_of"] = key;
    events.push_back({"cert.revoked", std::move(data)});
  }
  auto audit_trail = open_audit(home);
  AuditTrail& audit = *audit_trail;
  if (auto ok = audit.append_all(events); !ok) {
    return wrap(ok.error(), std::to_string(revoked->size()) + " certificate(s) of CA '" + ca +
                                "' are revoked in the issuance database, but the audit log did "
                                "not record it");
  }
  return revoked;
}

}  // namespace hwca::ca
