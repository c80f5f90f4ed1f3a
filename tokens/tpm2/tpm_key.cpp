#include "tokens/tpm2/tpm_key.hpp"

#include <openssl/sha.h>

#include <cstring>

#include "common/text.hpp"
#include "tokens/tpm2/key_template.hpp"
#include "tokens/tpm2/rc.hpp"
#include "tokens/tpm2/srk.hpp"
#include "tokens/tpm2/tpm2_uri.hpp"

namespace hwca::tokens::tpm2 {
namespace {

bool is(TSS2_RC rc, TSS2_RC code) { return tpm_rc(rc) == code; }

// The dictionary-attack counters (TPM2_GetCapability needs no authorisation).
struct DaState {
  uint32_t failures = 0, max_failures = 0, interval_s = 0;
};

std::optional<DaState> da_state(ESYS_CONTEXT* esys) {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* data = nullptr;
  TSS2_RC rc =
      Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                         TPM2_PT_LOCKOUT_COUNTER, 3, &more, &data);
  EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
  if (rc != TSS2_RC_SUCCESS) return std::nullopt;
  DaState out;
  const TPML_TAGGED_TPM_PROPERTY& props = data->data.tpmProperties;
  for (uint32_t i = 0; i < props.count; ++i) {
    switch (props.tpmProperty[i].property) {
      case TPM2_PT_LOCKOUT_COUNTER:
        out.failures = props.tpmProperty[i].value;
        break;
      case TPM2_PT_MAX_AUTH_FAIL:
        out.max_failures = props.tpmProperty[i].value;
        break;
      case TPM2_PT_LOCKOUT_INTERVAL:
        out.interval_s = props.tpmProperty[i].value;
        break;
      default:
        break;
    }
  }
  return out;
}

// `password` has been checked by check_password_size (at most 32 bytes).
TPM2B_AUTH auth_of(const SecureString& password) {
  TPM2B_AUTH auth{};
  if (password.size() > sizeof auth.buffer) return auth;
  auth.size = static_cast<UINT16>(password.size());
  std::memcpy(auth.buffer, password.view().data(), password.size());
  return auth;
}

void wipe(TPM2B_AUTH& auth) { OPENSSL_cleanse(&auth, sizeof auth); }

Status check_password_size(const SecureString& password) {
  // A key's auth value is at most the size of its name algorithm's digest (SHA-256).
  if (password.size() > 32) {
    return fail(ErrorKind::usage, "a TPM key password has at most 32 bytes");
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<TpmKey>> TpmKey::from_file(std::shared_ptr<TpmContext> ctx, KeyFile file,
                                                  std::string name) {
  std::string describe = "TPM key " + name;
  if (file.parent != kOwnerSrkParent) {
    return fail(ErrorKind::usage, describe + " was made under parent " + handle_text(file.parent) +
                                      "; hwca loads keys made under the owner SRK (0x40000001)");
  }
  if (auto ok = check_signing_key(file.pub.publicArea, describe); !ok) {
    return tl::unexpected(ok.error());
  }
  std::shared_ptr<TpmKey> key(new TpmKey(std::move(ctx), std::move(describe)));
  key->public_ = file.pub;
  key->file_ = std::move(file);
  (void)key->set_password(SecureString());  // an empty password always fits
  return key;
}

Result<std::shared_ptr<TpmKey>> TpmKey::from_handle(std::shared_ptr<TpmContext> ctx,
                                                    TPM2_HANDLE handle) {
  std::shared_ptr<TpmKey> key(new TpmKey(ctx, "TPM key " + handle_text(handle)));
  key->persistent_handle_ = handle;
  Status found = ctx->with([&](ESYS_CONTEXT* esys) { return key->open_persistent(esys, false); });
  if (!found) return tl::unexpected(found.error());
  if (auto ok = check_signing_key(key->public_.publicArea, key->describe_); !ok) {
    return tl::unexpected(ok.error());
  }
  (void)key->set_password(SecureString());  // an empty password always fits
  return key;
}

Status TpmKey::open_persistent(ESYS_CONTEXT* esys, bool check_same) {
  TPM2_HANDLE handle = *persistent_handle_;
  persistent_.reset();
  ESYS_TR tr = ESYS_TR_NONE;
  // swtpm needs an object slot to read a persistent object's public area.
  TSS2_RC rc = ctx_->with_room([&](ESYS_CONTEXT* e) {
    return Esys_TR_FromTPMPublic(e, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  });
  if (is(rc, TPM2_RC_HANDLE)) {
    return fail(
        check_same ? ErrorKind::device : ErrorKind::not_found,
        ctx_->name() + " has no key at " + handle_text(handle) + (check_same ? " any more" : ""));
  }
  if (rc != TSS2_RC_SUCCESS) return ctx_->error("opening " + describe_, rc);
  persistent_ = PersistentHandle(ctx_, tr);
  TPM2B_PUBLIC* pub = nullptr;
  rc = Esys_ReadPublic(esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> owned(pub);
  if (rc != TSS2_RC_SUCCESS) return ctx_->error("reading " + describe_, rc);
  auto now_there = key_name_hex(*pub), before = key_name_hex(public_);
  if (check_same && (!now_there || !before || *now_there != *before)) {
    persistent_.reset();
    return fail(ErrorKind::device, ctx_->name() + " holds another key at " + handle_text(handle) +
                                       " than before its reconnection");
  }
  public_ = *pub;
  return {};
}

template <typename Fn>
auto TpmKey::recovering(Fn&& attempt) -> decltype(attempt()) {
  const uint64_t seen = ctx_->generation();
  std::optional<Error> failure;
  if (ctx_->connected()) {
    TpmContext::clear_last_error_rc();
    auto result = attempt();
    if (result || !TpmContext::is_lost(TpmContext::last_error_rc())) return result;
    failure = result.error();
  } else {
    failure = Error{ErrorKind::device, ctx_->name() + " is not connected"};
  }
  if (auto ok = ctx_->recover(seen, *failure); !ok) return tl::unexpected(ok.error());
  return attempt();
}

TpmKey::~TpmKey() { ctx_->untrack(this); }

Status TpmKey::load() {
  return recovering([&] {
    return ctx_->with([&](ESYS_CONTEXT*) -> Status {
      auto tr = object();
      if (!tr) return tl::unexpected(tr.error());
      return {};
    });
  });
}

void TpmKey::evict() { loaded_.reset(); }

Result<ESYS_TR> TpmKey::object() {
  if (persistent_handle_) {
    if (!persistent_ || persistent_.stale()) {
      auto ok = ctx_->with([&](ESYS_CONTEXT* esys) { return open_persistent(esys, true); });
      if (!ok) return tl::unexpected(ok.error());
    }
    return persistent_.get();
  }
  if (loaded_.stale()) loaded_.reset();  // only forgotten: the TPM lost it with the context
  if (!loaded_) {
    auto srk = load_srk(ctx_);
    if (!srk) return tl::unexpected(srk.error());
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = ctx_->with_room([&](ESYS_CONTEXT* e) {
      return Esys_Load(e, srk->handle(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &file_->priv,
                       &file_->pub, &tr);
    });
    if (is(rc, TPM2_RC_INTEGRITY)) {
      return fail(ErrorKind::usage,
                  describe_ + " does not belong to " + ctx_->name() +
                      ": it was made by another TPM, or under another parent than this TPM's "
                      "SRK (TPM_RC_INTEGRITY)");
    }
    if (rc != TSS2_RC_SUCCESS) return ctx_->error("loading " + describe_, rc);
    loaded_ = TransientHandle(ctx_, tr);
    ctx_->track(this);
  }
  ctx_->touch(this);
  return loaded_.get();
}

Status TpmKey::set_password(SecureString password) {
  if (auto ok = check_password_size(password); !ok) return ok;
  password_ = std::move(password);
  // The key's Name and a digest of the password: what the context remembers a refusal by.
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(password_.view().data()), password_.size(), digest);
  auto name = key_name_hex(public_);
  refusal_id_ = (name ? *name : describe_) + ":" + hex_text(digest, sizeof digest);
  OPENSSL_cleanse(digest, sizeof digest);
  return {};
}

tl::unexpected<Error> TpmKey::auth_error(ESYS_CONTEXT* esys, TSS2_RC rc) {
  std::string message;
  auto da = da_state(esys);
  if (is(rc, TPM2_RC_LOCKOUT)) {
    message = ctx_->name() +
              " is in dictionary-attack lockout after too many wrong passwords: it refuses "
              "every key not marked noDA (keys with passwords) until a failure expires" +
              (da && da->interval_s != 0 ? " (one every " + std::to_string(da->interval_s) + " s)"
                                         : std::string()) +
              " or the lockout is cleared (tpm2_dictionarylockout --clear-lockout)";
  } else {
    message = describe_ + ": the TPM rejected the password (TPM_RC_AUTH_FAIL); not trying again";
    if (da && da->max_failures != 0) {
      uint32_t left = da->failures >= da->max_failures ? 0 : da->max_failures - da->failures;
      message += left == 0
                     ? "; the TPM is now in dictionary-attack lockout"
                     : "; " + std::to_string(left) + " more wrong password(s) lock the TPM out";
    }
  }
  Error error{ErrorKind::auth, message};
  // A lockout refuses every password alike; a rejected password is remembered for the
  // process, so that reopening the key does not spend another try.
  if (!is(rc, TPM2_RC_LOCKOUT)) ctx_->remember_refusal(refusal_id_, error);
  return tl::unexpected(error);
}

Status TpmKey::with_password(const std::string& what,
                             const std::function<TSS2_RC(ESYS_CONTEXT*, ESYS_TR)>& command) {
  return ctx_->with([&](ESYS_CONTEXT* esys) -> Status {
    if (auto refused = ctx_->refusal(refusal_id_)) return tl::unexpected(*refused);
    auto tr = object();
    if (!tr) return tl::unexpected(tr.error());
    TPM2B_AUTH auth = auth_of(password_);
    TSS2_RC rc = Esys_TR_SetAuth(esys, *tr, &auth);
    wipe(auth);
    if (rc != TSS2_RC_SUCCESS) return ctx_->error("setting the password of " + describe_, rc);
    rc = command(esys, *tr);
    // Keep no copy of the password in ESYS's record of the object.
    TPM2B_AUTH empty{};
    Esys_TR_SetAuth(esys, *tr, &empty);
    if (is(rc, TPM2_RC_AUTH_FAIL) || is(rc, TPM2_RC_BAD_AUTH) || is(rc, TPM2_RC_LOCKOUT)) {
      return auth_error(esys, rc);
    }
    if (rc != TSS2_RC_SUCCESS) return ctx_->error(what + " " + describe_, rc);
    return {};
  });
}

Result<TPMT_SIGNATURE> TpmKey::sign(const TPMT_SIG_SCHEME& scheme, const TPM2B_DIGEST& digest) {
  return recovering([&]() -> Result<TPMT_SIGNATURE> {
    TPMT_SIGNATURE* signature = nullptr;
    Status ok = with_password("signing with", [&](ESYS_CONTEXT* esys, ESYS_TR tr) {
      TPMT_TK_HASHCHECK validation{};
      validation.tag = TPM2_ST_HASHCHECK;
      validation.hierarchy = TPM2_RH_NULL;
      return Esys_Sign(esys, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                       &validation, &signature);
    });
    EsysPtr<TPMT_SIGNATURE> owned(signature);
    if (!ok) return tl::unexpected(ok.error());
    return *signature;
  });
}

Result<TpmKey::Certified> TpmKey::certify_by(ESYS_TR signer, const TPM2B_DATA& qualifying,
                                             const TPMT_SIG_SCHEME& scheme) {
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* signature = nullptr;
  // The key's authorisation (the ADMIN role: its password, adminWithPolicy being clear),
  // then the signer's (empty).
  Status ok = with_password("certifying", [&](ESYS_CONTEXT* esys, ESYS_TR tr) {
    return Esys_Certify(esys, tr, signer, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                        &qualifying, &scheme, &attest, &signature);
  });
  EsysPtr<TPM2B_ATTEST> attest_owned(attest);
  EsysPtr<TPMT_SIGNATURE> signature_owned(signature);
  if (!ok) return tl::unexpected(ok.error());
  return Certified{*attest, *signature};
}

Result<TPM2B_PUBLIC> TpmKey::read_public() {
  return recovering([&] {
    return ctx_->with([&](ESYS_CONTEXT* esys) -> Result<TPM2B_PUBLIC> {
      auto tr = object();
      if (!tr) return tl::unexpected(tr.error());
      TPM2B_PUBLIC* pub = nullptr;
      TSS2_RC rc = Esys_ReadPublic(esys, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
                                   nullptr, nullptr);
      EsysPtr<TPM2B_PUBLIC> owned(pub);
      if (rc != TSS2_RC_SUCCESS) return ctx_->error("reading " + describe_, rc);
      return *pub;
    });
  });
}

Status check_supported(const std::shared_ptr<TpmContext>& ctx, KeyType type) {
  TPM2B_PUBLIC tmpl = key_template(type);
  TPMT_PUBLIC_PARMS parms = template_parms(tmpl);
  return ctx->with([&](ESYS_CONTEXT* esys) -> Status {
    TSS2_RC rc = Esys_TestParms(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms);
    if (rc == TSS2_RC_SUCCESS) return {};
    auto code = tpm_rc(rc);
    if (code && (*code == TPM2_RC_KEY_SIZE || *code == TPM2_RC_CURVE || *code == TPM2_RC_VALUE ||
                 *code == TPM2_RC_ASYMMETRIC)) {
      return fail(ErrorKind::usage, ctx->name() + " cannot make " + key_type_name(type) +
                                        " keys (" + rc_text(rc) + ")");
    }
    return ctx->error("asking whether it supports " + std::string(key_type_name(type)), rc);
  });
}

Result<KeyFile> create_key(const std::shared_ptr<TpmContext>& ctx, const NewKey& key) {
  if (auto ok = check_password_size(key.password); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_supported(ctx, key.type); !ok) return tl::unexpected(ok.error());
  auto srk = load_srk(ctx);
  if (!srk) return tl::unexpected(srk.error());
  return ctx->with([&](ESYS_CONTEXT*) -> Result<KeyFile> {
    TPM2B_SENSITIVE_CREATE sensitive{};
    sensitive.sensitive.userAuth = auth_of(key.password);
    TPM2B_PUBLIC in = key_template(key.type);
    // A key without a password has nothing to guess: noDA keeps it usable while someone
    // else's wrong passwords hold the TPM in dictionary-attack lockout.
    if (key.password.empty()) in.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_CREATION_DATA* creation = nullptr;
    TPM2B_DIGEST* creation_hash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    // TPM2_Create needs an object slot while it works (swtpm: one of three).
    TSS2_RC rc = ctx->with_room([&](ESYS_CONTEXT* e) {
      return Esys_Create(e, srk->handle(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                         &in, &outside, &pcrs, &priv, &pub, &creation, &creation_hash, &ticket);
    });
    OPENSSL_cleanse(&sensitive, sizeof sensitive);
    EsysPtr<TPM2B_PRIVATE> priv_owned(priv);
    EsysPtr<TPM2B_PUBLIC> pub_owned(pub);
    EsysPtr<TPM2B_CREATION_DATA> creation_owned(creation);
    EsysPtr<TPM2B_DIGEST> hash_owned(creation_hash);
    EsysPtr<TPMT_TK_CREATION> ticket_owned(ticket);
    if (rc != TSS2_RC_SUCCESS) {
      return ctx->error("creating an " + std::string(key_type_name(key.type)) + " key", rc);
    }
    KeyFile file;
    file.empty_auth = key.password.empty();
    file.parent = kOwnerSrkParent;
    file.pub = *pub;
    file.priv = *priv;
    return file;
  });
}

Status check_handle_free(const std::shared_ptr<TpmContext>& ctx, TPM2_HANDLE handle) {
  return ctx->with([&](ESYS_CONTEXT* esys) -> Status {
    ESYS_TR existing = ESYS_TR_NONE;
    TSS2_RC rc = ctx->with_room([&](ESYS_CONTEXT* e) {
      return Esys_TR_FromTPMPublic(e, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &existing);
    });
    if (rc == TSS2_RC_SUCCESS) {
      Esys_TR_Close(esys, &existing);
      return fail(ErrorKind::conflict, ctx->name() + " already holds an object at " +
                                           handle_text(handle) + "; choose a free handle");
    }
    if (!is(rc, TPM2_RC_HANDLE)) return ctx->error("looking at " + handle_text(handle), rc);
    return {};
  });
}

Status persist_key(const std::shared_ptr<TpmContext>& ctx, const KeyFile& file,
                   TPM2_HANDLE handle) {
  auto key = TpmKey::from_file(ctx, file, "new key");
  if (!key) return tl::unexpected(key.error());
  if (auto ok = check_handle_free(ctx, handle); !ok) return ok;
  return ctx->with([&](ESYS_CONTEXT* esys) -> Status {
    auto tr = (*key)->object();
    if (!tr) return tl::unexpected(tr.error());
    ESYS_TR persistent = ESYS_TR_NONE;
    TSS2_RC rc = Esys_EvictControl(esys, ESYS_TR_RH_OWNER, *tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE, handle, &persistent);
    if (is(rc, TPM2_RC_NV_SPACE)) {
      return fail(ErrorKind::device,
                  ctx->name() + " has no room for another persistent object (TPM_RC_NV_SPACE)");
    }
    if (rc != TSS2_RC_SUCCESS) {
      return ctx->error("making the key persistent at " + handle_text(handle), rc);
    }
    Esys_TR_Close(esys, &persistent);
    return {};
  });
}

}  // namespace hwca::tokens::tpm2
