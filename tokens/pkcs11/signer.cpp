#include "tokens/pkcs11/signer.hpp"

#include "tokens/pkcs11/gateway.hpp"
#include "tokens/sig_encoding.hpp"

namespace hwca::tokens::pkcs11 {
namespace {

struct PssMechanism {
  CK_MECHANISM_TYPE hash;
  CK_RSA_PKCS_MGF_TYPE mgf;
};

Result<PssMechanism> pss_mechanism(const std::string& digest) {
  switch (signing_digest_size(digest)) {
    case 32:
      return PssMechanism{CKM_SHA256, CKG_MGF1_SHA256};
    case 48:
      return PssMechanism{CKM_SHA384, CKG_MGF1_SHA384};
    case 64:
      return PssMechanism{CKM_SHA512, CKG_MGF1_SHA512};
    default:
      return fail(ErrorKind::usage, "unsupported digest '" + digest + "' for RSA-PSS");
  }
}

const char* mechanism_name(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_ECDSA:
      return "CKM_ECDSA";
    case CKM_RSA_PKCS:
      return "CKM_RSA_PKCS";
    case CKM_RSA_PKCS_PSS:
      return "CKM_RSA_PKCS_PSS";
    default:
      return "mechanism";
  }
}

}  // namespace

struct Pkcs11Signer::Attempt {
  Result<std::vector<uint8_t>> result;
  Fault fault = Fault::none;  // what the failure says about the token (gateway.hpp)
  uint64_t generation = 0;    // the module's generation the attempt ran in
  uint64_t epoch = 0;         // the token's login epoch the attempt ran in
};

Pkcs11Signer::Pkcs11Signer(std::shared_ptr<Token> token, KeyObject key, ossl::Ptr<EVP_PKEY> pub,
                           std::string uri)
    : token_(std::move(token)),
      key_(std::move(key)),
      key_generation_(token_->generation()),
      key_epoch_(token_->login_epoch()),
      pub_(std::move(pub)),
      uri_(std::move(uri)) {
  int bits = EVP_PKEY_get_bits(pub_.get());
  max_sig_ = key_.key_type == CKK_EC ? 2 * static_cast<size_t>((bits + 7) / 8)
                                     : static_cast<size_t>((bits + 7) / 8);
}

Result<std::vector<uint8_t>> Pkcs11Signer::sign(const SignRequest& req) {
  if (signing_digest_size(req.digest) != req.hash.size()) {
    return fail(ErrorKind::usage, "digest '" + req.digest +
                                      "' is not supported for signing "
                                      "or does not match the hash length");
  }
  bool ec = key_.key_type == CKK_EC;
  if (ec != (req.scheme == SigScheme::ecdsa)) {
    return fail(ErrorKind::usage, "the signature scheme does not fit " + uri_);
  }
  CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
  CK_RSA_PKCS_PSS_PARAMS pss{};
  std::vector<uint8_t> prefixed;  // DigestInfo for PKCS#1 v1.5
  std::span<const uint8_t> data = req.hash;
  if (req.scheme == SigScheme::rsa_pkcs1) {
    auto di = digest_info(req.digest, req.hash);
    if (!di) return tl::unexpected(di.error());
    prefixed = std::move(*di);
    data = prefixed;
    mech.mechanism = CKM_RSA_PKCS;
  } else if (req.scheme == SigScheme::rsa_pss) {
    auto hash = pss_mechanism(req.digest);
    auto mgf = pss_mechanism(req.mgf1_digest.empty() ? req.digest : req.mgf1_digest);
    if (!hash) return tl::unexpected(hash.error());
    if (!mgf) return tl::unexpected(mgf.error());
    pss.hashAlg = hash->hash;
    pss.mgf = mgf->mgf;
    pss.sLen = static_cast<CK_ULONG>(req.pss_salt_len);
    mech = CK_MECHANISM{CKM_RSA_PKCS_PSS, &pss, sizeof pss};
  }

  Attempt a = sign_once(mech, data);
  bool relogged = false, reconnected = false;
  std::string why;  // what the recovery found, for the final error
  while (!a.result) {
    // After a reinitialisation that did not attach the token again (its login failed, say),
    // whatever fails next is worth another attempt too.
    if (a.fault == Fault::none && token_->attached()) return std::move(a.result);
    if (a.fault == Fault::login_lost && !relogged && !reconnected) {
      relogged = true;
      auto again = token_->relogin(a.epoch);
      if (again && *again) {
        a = sign_once(mech, data);
        continue;
      }
      // The login held (so the fault is elsewhere), or logging in again failed: reconnect.
      if (!again) why = "; " + again.error().message;
    }
    if (reconnected) break;
    reconnected = true;
    // Initialise the module again (or wait for the thread doing it) and try once more.
    // While the device stays away this fails at once.
    if (auto back = token_->recover(a.generation); !back) {
      return fail(ErrorKind::device, a.result.error().message + why +
                                         "; reconnecting failed: " + back.error().message);
    }
    a = sign_once(mech, data);
  }
  if (a.result || a.fault == Fault::none) return std::move(a.result);
  return fail(ErrorKind::device, a.result.error().message + why);
}

Result<CK_OBJECT_HANDLE> Pkcs11Signer::handle(CK_SESSION_HANDLE session, CK_RV* rv) {
  std::lock_guard lock(key_mu_);
  const uint64_t now = token_->generation();
  const uint64_t epoch = token_->login_epoch();
  if (key_generation_ == now && key_epoch_ == epoch) return key_.handle;
  Pkcs11Uri by;
  if (!key_.label.empty()) by.object = key_.label;
  if (!key_.id.empty()) by.id = key_.id;
  auto found = find_key(*token_, session, by, CKO_PRIVATE_KEY, rv);
  if (!found) return tl::unexpected(found.error());
  key_.handle = found->handle;
  key_generation_ = now;
  key_epoch_ = epoch;
  return key_.handle;
}

Pkcs11Signer::Attempt Pkcs11Signer::sign_once(CK_MECHANISM& mech, std::span<const uint8_t> data) {
  Attempt a;
  a.generation = token_->generation();
  CK_RV open_rv = CKR_OK;
  auto lease = token_->session(&open_rv);
  if (!lease) {
    // Only a token gone counts here: a session that does not open says nothing of the login.
    if (fault_of(open_rv) == Fault::gone) a.fault = Fault::gone;
    a.result = a.fault == Fault::gone
                   ? fail(ErrorKind::device, token_->describe() + " is gone or broken (" +
                                                 rv_name(open_rv) + "); no session opens")
                   : tl::unexpected(lease.error());
    return a;
  }
  a.generation = token_->generation();  // stable while the lease holds the use lock
  a.epoch = token_->login_epoch();
  CK_RV find_rv = CKR_OK;
  auto key = handle(lease->get(), &find_rv);
  if (!key) {
    a.fault = fault_of(find_rv);
    if (a.fault == Fault::none && key.error().kind == ErrorKind::not_found) {
      // The token had this key: not finding it now means the login (which private objects
      // need) or the session was lost, not that the key is gone.
      a.fault = Fault::login_lost;
    }
    if (a.fault != Fault::none) lease->mark_broken();
    a.result = a.fault == Fault::login_lost && find_rv == CKR_OK
                   ? fail(ErrorKind::device, token_->describe() + " no longer shows the key of " +
                                                 uri_ + " (its login was lost?)")
                   : tl::unexpected(key.error());
    return a;
  }
  std::vector<uint8_t> sig(max_sig_);
  CK_ULONG sig_len = sig.size();
  Rv answer(CKR_OK);
  {
    // C_SignInit and C_Sign are bounded as one call: "did not answer C_Sign".
    auto seq = token_->gateway().sequence("C_Sign");
    answer = seq.call(HWCA_CK(C_SignInit), lease->get(), &mech, *key);
    if (answer) {
      answer = seq.call(HWCA_CK(C_Sign), lease->get(), const_cast<CK_BYTE*>(data.data()),
                        data.size(), sig.data(), &sig_len);
    }
  }
  if (const CK_RV rv = answer.value(); rv != CKR_OK) {
    a.fault = answer.fault();
    if (a.fault != Fault::none || rv == CKR_OPERATION_ACTIVE) lease->mark_broken();
    std::string what = std::string(mechanism_name(mech.mechanism)) + " signature with " + uri_;
    // Some tokens answer CKR_ARGUMENTS_BAD to parameters they do not support (SoftHSM2 and
    // an MGF1 hash that differs from the message hash).
    if (rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
        rv == CKR_ARGUMENTS_BAD) {
      a.result = fail(ErrorKind::device,
                      token_->describe() + " does not support " + what + " (" + rv_name(rv) + ")");
    } else if (a.fault != Fault::none) {
      a.result = fail(ErrorKind::device, token_->describe() + " is gone or broken (" + rv_name(rv) +
                                             "); " + what + " failed");
    } else {
      a.result = answer.error(what + " failed");
    }
    return a;
  }
  sig.resize(sig_len);
  if (key_.key_type == CKK_EC) {
    a.result = ecdsa_raw_to_der(sig);
  } else {
    a.result = std::move(sig);
  }
  return a;
}

}  // namespace hwca::tokens::pkcs11
