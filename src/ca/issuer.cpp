#include "ca/issuer.hpp"

#include <algorithm>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/csr.hpp"
#include "ca/dn.hpp"
#include "ca/request_policy.hpp"
#include "ca/serial.hpp"
#include "ca/spki.hpp"
#include "common/forced_exit.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr std::time_t kDay = 86400;
constexpr int kSerialAttempts = 4;
// The largest batch of serials reserved at once (Issuer::next_serial).
constexpr size_t kSerialBatchMax = 4096;

nlohmann::json issued_event(const IssuedCertificate& c) {
  nlohmann::json event = {{"ca", c.record.ca},
                          {"serial", c.record.serial},
                          {"profile", c.record.profile},
                          {"subject", c.record.subject},
                          {"sans", c.record.sans},
                          {"not_before", c.record.not_before},
                          {"not_after", c.record.not_after},
                          {"sha256", fingerprint_sha256(c.record.der)},
                          {"requester", c.record.requester}};
  if (!c.record.attest_ek_sha256.empty()) {
    event["ek_sha256"] = c.record.attest_ek_sha256;
    event["ak_name"] = c.record.attest_ak_name;
    event["key_name"] = c.record.attest_key_name;
  }
  return event;
}

}  // namespace

std::string compromised_key_message(const std::string& spki_sha256) {
  return "the request's public key (SubjectPublicKeyInfo SHA-256 " + spki_sha256 +
         ") is in a certificate revoked for keyCompromise: it is never certified again; make a "
         "new key";
}

Status audit_rejection(AuditTrail& audit, const std::string& ca, const SignRequest& request,
                       const Error& why) {
  nlohmann::json data = {{"ca", ca},
                         {"profile", request.profile},
                         {"source", request.source},
                         {"csr_sha256", sha256_hex(request.csr)},
                         {"reason", bounded(why.message, 1024)},
                         {"requester", request.requester}};
  auto ok = audit.append("cert.rejected", data);
  if (!ok) return tl::unexpected(ok.error());
  return {};
}

void Issuer::reject(const SignRequest& request, const Error& why, bool audit_outage) {
  if (!audit_outage && is_outage(why)) return;
  if (auto ok = audit_rejection(*audit_, name_, request, why); !ok && audit_error_) {
    audit_error_(ok.error());
  }
}

Result<std::unique_ptr<Issuer>> Issuer::open(const Home& home, const CryptoContext& crypto,
                                             IssuanceStore& store, const std::string& ca,
                                             const tokens::OpenOptions& key_options) {
  auto is = open_unkeyed(home, crypto, store, ca);
  if (!is) return tl::unexpected(is.error());
  if (auto ok = (*is)->load_key(key_options); !ok) return tl::unexpected(ok.error());
  return is;
}

Result<std::unique_ptr<Issuer>> Issuer::open_unkeyed(const Home& home, const CryptoContext& crypto,
                                                     IssuanceStore& store, const std::string& ca) {
  std::unique_ptr<Issuer> is(new Issuer(home, crypto, store));
  is->name_ = ca;
  auto cert = load_ca_cert(home, ca);
  if (!cert) return tl::unexpected(cert.error());
  is->cert_ = std::move(*cert);
  is->ca_not_before_ = unix_time(X509_get0_notBefore(is->cert_.get()));
  is->ca_not_after_ = unix_time(X509_get0_notAfter(is->cert_.get()));
  if (auto ok = check_ca_usable(home, &store, ca, is->cert_.get()); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = store.writable(); !ok) return tl::unexpected(ok.error());
  return is;
}

Status Issuer::load_key(const tokens::OpenOptions& key_options) {
  auto key = load_ca_key(home_, crypto_, name_, cert_.get(), key_options);
  if (!key) return tl::unexpected(key.error());
  key_ = std::move(*key);
  return {};
}

Status Issuer::use_key(ossl::Ptr<EVP_PKEY> key) {
  if (!key || EVP_PKEY_eq(X509_get0_pubkey(cert_.get()), key.get()) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::conflict, "the key given is not the key of CA '" + name_ + "'");
  }
  key_ = std::move(key);
  return {};
}

struct Issuer::Checked {
  ossl::Ptr<X509_REQ> owned;  // the parsed request, unless the caller parsed it
  Approved approved;          // owns the subject the spec points to
  CertificateSpec spec;       // everything but the issuer's key
  IssuedCertificate out;
};

Result<Issuer::Checked> Issuer::check(const SignRequest& request, std::time_t now) {
  auto profile = find_profile(home_.config().profiles, request.profile);
  if (!profile) return tl::unexpected(profile.error());
  ossl::Ptr<X509_REQ> owned;
  X509_REQ* req = request.parsed;
  if (req == nullptr) {
    auto parsed = parse_csr(request.csr, request.source, crypto_.libctx());
    if (!parsed) return tl::unexpected(parsed.error());
    owned = std::move(*parsed);
    req = owned.get();
  }
  auto approved = apply_profile(*profile, req);
  if (!approved) return wrap(approved.error(), request.source);
  const std::string spki = spki_sha256(X509_REQ_get_X509_PUBKEY(req));
  if (spki.empty()) return fail(ErrorKind::usage, request.source + ": its key cannot be encoded");
  if (!request.key_checked) {
    auto compromised = store_.key_compromised(spki);
    if (!compromised) return tl::unexpected(compromised.error());
    if (*compromised)
      return fail(ErrorKind::usage, request.source + ": " + compromised_key_message(spki));
  }

  Checked c;
  CertificateSpec& spec = c.spec;
  spec.ca = profile->ca;
  spec.path_len = profile->path_len;
  if (profile->ca) {
    long ca_len = X509_get_pathlen(cert_.get());
    if (ca_len == 0) {
      return fail(ErrorKind::usage, "CA '" + name_ + "' has path length 0: it cannot sign a CA");
    }
    if (ca_len > 0 && (!spec.path_len || *spec.path_len >= ca_len)) {
      return fail(ErrorKind::usage, "profile '" + profile->name +
                                        "' needs a path length below CA '" + name_ + "''s (" +
                                        std::to_string(ca_len) + ")");
    }
  }
  if (profile->lifetime_seconds > 0 && request.days) {
    return fail(ErrorKind::usage, "profile '" + profile->name + "' has a fixed lifetime of " +
                                      std::to_string(profile->lifetime_seconds) +
                                      " seconds: do not give --days");
  }
  int days = request.days.value_or(profile->default_days);
  if (days <= 0) return fail(ErrorKind::usage, "--days must be positive");
  if (days > profile->max_days) {
    return fail(ErrorKind::usage, std::to_string(days) + " days is more than profile '" +
                                      profile->name + "' allows (" +
                                      std::to_string(profile->max_days) + ")");
  }
  IssuedCertificate& out = c.out;
  spec.not_before = std::max(now - kBackdateSeconds, ca_not_before_);
  spec.not_after =
      now + (profile->lifetime_seconds > 0 ? static_cast<std::time_t>(profile->lifetime_seconds)
                                           : static_cast<std::time_t>(days) * kDay);
  if (spec.not_after > ca_not_after_) {
    if (request.days) {
      return fail(ErrorKind::usage,
                  std::to_string(days) + " days would outlive CA '" + name_ +
                      "', which expires on " + utc_text(ca_not_after_) + " (at most " +
                      std::to_string((ca_not_after_ - now) / kDay) + " days are left)");
    }
    spec.not_after = ca_not_after_;
    out.clipped = true;
  }
  spec.subject = approved->subject.get();
  spec.subject_key = approved->key;
  spec.subject_spki = X509_REQ_get_X509_PUBKEY(req);
  spec.issuer = cert_.get();
  spec.issuer_key = key_.get();
  spec.key_usage_bits = approved->key_usage;
  spec.ext_key_usage = profile->ext_key_usage;
  spec.sans = approved->sans;
  spec.urls = effective_urls(home_.config().cas.at(name_).urls, profile->crl_urls,
                             profile->ca_issuers_urls);
  // Written to the database before the token signs with it.
  auto serial = next_serial();
  if (!serial) return tl::unexpected(serial.error());
  spec.serial = *serial;
  IssuedCert& r = out.record;
  r.serial = spec.serial.hex();
  r.ca = name_;
  r.profile = profile->name;
  r.subject = dn_text(spec.subject);
  for (const auto& san : approved->sans) r.sans.push_back(san.text());
  r.not_before = spec.not_before;
  r.not_after = spec.not_after;
  r.requester = request.requester;
  r.renewed_from = request.renewed_from;
  r.spki_sha256 = spki;
  if (request.attestation) {
    r.attest_ek_sha256 = request.attestation->ek_sha256;
    r.attest_ak_name = request.attestation->ak_name;
    r.attest_key_name = request.attestation->key_name;
  }
  c.owned = std::move(owned);
  c.approved = std::move(*approved);
  return c;
}

Status Issuer::precheck(const SignRequest& request) {
  auto c = check(request, std::time(nullptr));
  if (!c) {
    reject(request, c.error(), /*audit_outage=*/true);
    return tl::unexpected(c.error());
  }
  return {};
}

Result<bool> Issuer::key_compromised(X509_REQ* req) {
  return store_.key_compromised(spki_sha256(X509_REQ_get_X509_PUBKEY(req)));
}

bool Issuer::renewal_key_change() const {
  auto ca = home_.config().cas.find(name_);
  return ca != home_.config().cas.end() && ca->second.renewal_key_change;
}

Result<std::vector<Serial>> Issuer::reserve_serials(size_t n) {
  std::vector<Serial> drawn;
  std::vector<std::string> hex;
  for (size_t i = 0; i < n; ++i) {
    auto serial = Serial::random();
    if (!serial) return tl::unexpected(serial.error());
    hex.push_back(serial->hex());
    drawn.push_back(*serial);
  }
  auto taken = store_.reserve_serials(name_, hex);
  if (!taken) return tl::unexpected(taken.error());
  std::vector<Serial> out;
  for (size_t i = 0, t = 0; i < drawn.size() && t < taken->size(); ++i) {
    if (hex[i] == (*taken)[t]) {  // in the order given
      out.push_back(drawn[i]);
      ++t;
    }
  }
  return out;
}

Result<Serial> Issuer::next_serial() {
  std::unique_lock lock(serials_mu_);
  for (int empty_draws = 0;;) {
    // Refilled by one thread at a time, outside the lock, once a quarter of the last batch
    // is left: the others go on with what is there meanwhile.
    if (!refilling_ && serials_.size() <= serial_batch_ / 4) {
      refilling_ = true;
      const size_t n = serial_batch_;
      lock.unlock();
      auto got = reserve_serials(n);
      lock.lock();
      refilling_ = false;
      serials_ready_.notify_all();
      if (!got && serials_.empty()) return tl::unexpected(got.error());
      if (got) {
        serials_.insert(serials_.end(), got->begin(), got->end());
        serial_batch_ = std::min(n * 2, kSerialBatchMax);
        if (got->empty() && serials_.empty() && ++empty_draws == kSerialAttempts) {
          return fail(ErrorKind::internal, "no unused serial number after several tries");
        }
      }
    }
    if (!serials_.empty()) {
      Serial out = serials_.back();
      serials_.pop_back();
      return out;
    }
    serials_ready_.wait(lock, [&] { return !refilling_ || !serials_.empty(); });
  }
}

Result<IssuedCertificate> Issuer::sign(Checked& c) {
  if (!key_) return fail(ErrorKind::internal, "CA '" + name_ + "''s key was not loaded");
  auto cert = build_certificate(c.spec, crypto_.libctx());
  if (!cert) return tl::unexpected(cert.error());
  c.out.record.der = cert_der(cert->get());
  if (c.out.record.der.empty()) return fail(ErrorKind::internal, "cannot encode the certificate");
  c.out.cert = std::move(*cert);
  return std::move(c.out);
}

Result<IssuedCertificate> Issuer::issue(const SignRequest& request) {
  auto batch = issue_batch({request});
  if (!batch) return tl::unexpected(batch.error());
  return std::move(batch->front());
}

Result<IssuedCertificate> Issuer::sign_unrecorded(const SignRequest& request) {
  auto c = check(request, std::time(nullptr));
  if (!c) {
    reject(request, c.error(), /*audit_outage=*/false);
    return tl::unexpected(c.error());
  }
  auto made = sign(*c);
  if (!made) {
    Error why = wrap(made.error(), "nothing issued").value();
    reject(request, why, /*audit_outage=*/false);
    return tl::unexpected(why);
  }
  return made;
}

Status Issuer::commit(const std::vector<Signed>& batch) {
  return commit(batch, /*audit_outage=*/false);
}

Status Issuer::commit(const std::vector<Signed>& batch, bool audit_outage) {
  auto refuse_all = [&](const Error& why) {
    for (const auto& s : batch) reject(*s.request, why, audit_outage);
    return tl::unexpected(why);
  };
  // The commit point: once recorded (and synced), the certificates exist.
  std::vector<IssuedCert> rows;
  rows.reserve(batch.size());
  for (const auto& s : batch) rows.push_back(s.cert->record);
  std::vector<AuditTrail::Event> events;
  events.reserve(batch.size());
  for (const auto& s : batch) events.push_back({"cert.issued", issued_event(*s.cert)});
  // Room for the audit lines first: a disk that fills up between the record and its audit
  // line would leave certificates recorded but never handed out.
  if (auto ok = audit_->reserve(events); !ok) {
    return refuse_all(wrap(ok.error(), "nothing issued: no room for its audit line").value());
  }
  // The record and its audit lines (one transaction where the database holds the chain),
  // not cut in two by the call watchdog ending the process because another thread's token
  // call hangs.
  ForcedExitHold whole;
  if (auto ok = store_.record_audited(rows, *audit_, events); !ok) {
    if (!ok.error().recorded) {
      return refuse_all(
          wrap(ok.error().error, "nothing issued: the issuance database did not record it")
              .value());
    }
    // Recorded but not audited: withhold the certificates; the database keeps them, so
    // 'hwca cert list' shows them and they can be revoked.
    return wrap(ok.error().error,
                "certificates recorded in the database but not audited, so not "
                "handed out (revoke them: 'hwca cert list')");
  }
  return {};
}

Result<std::vector<IssuedCertificate>> Issuer::issue_batch(
    const std::vector<SignRequest>& requests) {
  std::vector<IssuedCertificate> out;
  out.reserve(requests.size());
  std::time_t now = std::time(nullptr);
  // Every request is checked before the token signs anything: a bad one in a batch leaves
  // no signed certificate behind.
  std::vector<Checked> checked;
  checked.reserve(requests.size());
  for (const auto& request : requests) {
    auto c = check(request, now);
    if (!c) {
      reject(request, c.error(), /*audit_outage=*/true);
      return tl::unexpected(c.error());
    }
    checked.push_back(std::move(*c));
  }
  // Past this point a failure drops the whole batch, signed certificates included (none
  // was recorded or handed out): every request of it is audited as refused.
  for (auto& c : checked) {
    auto made = sign(c);
    if (!made) {
      Error why = wrap(made.error(), "nothing issued").value();
      for (const auto& request : requests) reject(request, why, /*audit_outage=*/true);
      return tl::unexpected(why);
    }
    out.push_back(std::move(*made));
  }
  std::vector<Signed> batch;
  batch.reserve(out.size());
  for (size_t i = 0; i < out.size(); ++i) batch.push_back({&requests[i], &out[i]});
  if (auto ok = commit(batch, /*audit_outage=*/true); !ok) return tl::unexpected(ok.error());
  return out;
}

}  // namespace hwca::ca
