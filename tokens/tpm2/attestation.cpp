#include "tokens/tpm2/attestation.hpp"

#include <algorithm>

#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <optional>

#include "common/ossl.hpp"
#include "tokens/tpm2/key_template.hpp"
#include "tokens/tpm2/rc.hpp"
#include "tokens/tpm2/tpm2_keystore.hpp"
#include "tokens/tpm2/tpm2_uri.hpp"
#include "tokens/tpm2/tpm_context.hpp"
#include "tokens/tpm2/tpm_key.hpp"

namespace hwca::tokens::tpm2 {
namespace {

using Bytes = std::vector<uint8_t>;

// PolicySecret(TPM_RH_ENDORSEMENT): the authPolicy of the L templates (SHA-256) and
// PolicyB of the H templates (SHA-384), TCG EK Credential Profile 2.5, B.6.
constexpr uint8_t kPolicyA256[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
    0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};
constexpr uint8_t kPolicyB384[48] = {
    0xB2, 0x6E, 0x7D, 0x28, 0xD1, 0x1A, 0x50, 0xBC, 0x53, 0xD8, 0x82, 0xBC, 0xF5, 0xFD, 0x3A, 0x1A,
    0x07, 0x41, 0x48, 0xBB, 0x35, 0xD3, 0xB4, 0xE4, 0xCB, 0x1C, 0x0A, 0xD9, 0xBD, 0xE4, 0x19, 0xCA,
    0xCB, 0x47, 0xBA, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0F, 0x9F, 0xC0, 0x00, 0xF3, 0xF8, 0x0E, 0x12};

constexpr TPMA_OBJECT kEkLowAttributes =  // 0x000300b2
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
constexpr TPMA_OBJECT kAkAttributes =  // 0x00050072
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;

uint32_t nv_index_of(EkKind kind) {
  switch (kind) {
    case EkKind::rsa2048:
      return kEkCertRsa2048;
    case EkKind::ecc_p256:
      return kEkCertEccP256;
    case EkKind::ecc_p384:
      return kEkCertEccP384;
  }
  return 0;
}

// The TCG EK Credential Profile template of each kind: L-1 (RSA-2048), L-2 (ECC P-256),
// H-3 (ECC P-384: SHA-384, AES-256, userWithAuth, PolicyB, empty unique).
TPM2B_PUBLIC ek_template(EkKind kind) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kEkLowAttributes;
  p.authPolicy.size = sizeof kPolicyA256;
  std::memcpy(p.authPolicy.buffer, kPolicyA256, sizeof kPolicyA256);
  if (kind == EkKind::rsa2048) {
    p.type = TPM2_ALG_RSA;
    TPMS_RSA_PARMS& rsa = p.parameters.rsaDetail;
    rsa.symmetric = {TPM2_ALG_AES, {.aes = 128}, {.aes = TPM2_ALG_CFB}};
    rsa.scheme.scheme = TPM2_ALG_NULL;
    rsa.keyBits = 2048;
    rsa.exponent = 0;
    p.unique.rsa.size = 256;  // zeros
    return t;
  }
  p.type = TPM2_ALG_ECC;
  TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  if (kind == EkKind::ecc_p256) {
    ecc.symmetric = {TPM2_ALG_AES, {.aes = 128}, {.aes = TPM2_ALG_CFB}};
    ecc.curveID = TPM2_ECC_NIST_P256;
    p.unique.ecc.x.size = 32;  // zeros
    p.unique.ecc.y.size = 32;
    return t;
  }
  p.nameAlg = TPM2_ALG_SHA384;
  p.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;  // 0x000300f2
  p.authPolicy.size = sizeof kPolicyB384;
  std::memcpy(p.authPolicy.buffer, kPolicyB384, sizeof kPolicyB384);
  ecc.symmetric = {TPM2_ALG_AES, {.aes = 256}, {.aes = TPM2_ALG_CFB}};
  ecc.curveID = TPM2_ECC_NIST_P384;
  return t;
}

// A restricted ECDSA-SHA256 signing key on P-256 whose unique field is random: each one a
// new key.
Result<TPM2B_PUBLIC> ak_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kAkAttributes;
  TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  p.unique.ecc.x.size = p.unique.ecc.y.size = 32;
  if (RAND_bytes(p.unique.ecc.x.buffer, 32) != 1 || RAND_bytes(p.unique.ecc.y.buffer, 32) != 1) {
    return fail(ErrorKind::internal, "no random bytes for the AK: " + ossl::take_errors());
  }
  return t;
}

Result<Bytes> marshal(const TPM2B_PUBLIC& pub) {
  Bytes out(sizeof(TPM2B_PUBLIC));
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &offset) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "cannot marshal a TPM2B_PUBLIC");
  }
  out.resize(offset);
  return out;
}

// A primary object of the endorsement hierarchy, made again from its template whenever the
// context flushed it for room (a primary is derived from the hierarchy's seed and the
// template alone: the same key each time).
class Primary : public Evictable {
 public:
  Primary(std::shared_ptr<TpmContext> ctx, TPM2B_PUBLIC tmpl, std::string what)
      : ctx_(std::move(ctx)), template_(tmpl), what_(std::move(what)) {}
  ~Primary() override { release(); }
  Primary(const Primary&) = delete;
  Primary& operator=(const Primary&) = delete;

  // The loaded object, made (again) if needed. Call under the context's lock.
  Result<ESYS_TR> object() {
    if (!handle_) {
      auto made = create();
      if (!made) return tl::unexpected(made.error());
    }
    ctx_->touch(this);
    return handle_.get();
  }
  bool loaded() const { return static_cast<bool>(handle_); }
  // The public area the TPM made (after the first object()).
  const TPM2B_PUBLIC& pub() const { return public_; }
  void evict() override { handle_.reset(); }
  // Flush it now; object() makes it again.
  void release() {
    ctx_->untrack(this);
    handle_.reset();
  }

 private:
  Status create() {
    return ctx_->with([&](ESYS_CONTEXT*) -> Status {
      TPM2B_SENSITIVE_CREATE sensitive{};
      TPM2B_DATA outside{};
      TPML_PCR_SELECTION pcrs{};
      ESYS_TR handle = ESYS_TR_NONE;
      TPM2B_PUBLIC* out = nullptr;
      TPM2B_CREATION_DATA* creation = nullptr;
      TPM2B_DIGEST* creation_hash = nullptr;
      TPMT_TK_CREATION* ticket = nullptr;
      TSS2_RC rc = ctx_->with_room([&](ESYS_CONTEXT* e) {
        return Esys_CreatePrimary(e, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &sensitive, &template_, &outside, &pcrs, &handle,
                                  &out, &creation, &creation_hash, &ticket);
      });
      EsysPtr<TPM2B_PUBLIC> out_owned(out);
      EsysPtr<TPM2B_CREATION_DATA> creation_owned(creation);
      EsysPtr<TPM2B_DIGEST> hash_owned(creation_hash);
      EsysPtr<TPMT_TK_CREATION> ticket_owned(ticket);
      if (rc != TSS2_RC_SUCCESS) {
        return ctx_->error("creating " + what_ + " in the endorsement hierarchy", rc);
      }
      TransientHandle made(ctx_, handle);
      if (made_once_ && std::memcmp(&out->publicArea.unique, &public_.publicArea.unique,
                                    sizeof public_.publicArea.unique) != 0) {
        return fail(ErrorKind::device,
                    ctx_->name() + ": " + what_ + " made again from its template is another key");
      }
      public_ = *out;
      made_once_ = true;
      handle_ = std::move(made);
      ctx_->track(this);
      return {};
    });
  }

  std::shared_ptr<TpmContext> ctx_;
  TPM2B_PUBLIC template_;
  std::string what_;
  TransientHandle handle_;
  TPM2B_PUBLIC public_{};
  bool made_once_ = false;
};

// The largest NV read the TPM takes at once (TPM2_PT_NV_BUFFER_MAX); 512 if it does not say.
uint16_t nv_buffer_max(ESYS_CONTEXT* esys) {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* data = nullptr;
  TSS2_RC rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &data);
  EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
  if (rc == TSS2_RC_SUCCESS && data->data.tpmProperties.count == 1 &&
      data->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
      data->data.tpmProperties.tpmProperty[0].value != 0) {
    return static_cast<uint16_t>(
        std::min<uint32_t>(data->data.tpmProperties.tpmProperty[0].value, 1024));
  }
  return 512;
}

std::string index_text(uint32_t index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", index);
  return buf;
}

// The contents of NV index `index`; nullopt when the TPM has no such index.
Result<std::optional<Bytes>> read_nv(const std::shared_ptr<TpmContext>& ctx, uint32_t index) {
  return ctx->with([&](ESYS_CONTEXT* esys) -> Result<std::optional<Bytes>> {
    const std::string what = "NV index " + index_text(index);
    ESYS_TR nv = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (tpm_rc(rc) == TPM2_RC_HANDLE) return std::optional<Bytes>();
    if (rc != TSS2_RC_SUCCESS) return ctx->error("opening " + what, rc);
    PersistentHandle handle(ctx, nv);  // forgotten by ESYS when dropped
    TPM2B_NV_PUBLIC* pub = nullptr;
    rc = Esys_NV_ReadPublic(esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr);
    EsysPtr<TPM2B_NV_PUBLIC> pub_owned(pub);
    if (rc != TSS2_RC_SUCCESS) return ctx->error("reading the public area of " + what, rc);
    const TPMA_NV attrs = pub->nvPublic.attributes;
    const uint16_t size = pub->nvPublic.dataSize;
    // EK certificate indices are read with their own (empty) authorisation or the owner's.
    ESYS_TR auth = ESYS_TR_NONE;
    if (attrs & TPMA_NV_AUTHREAD) {
      auth = nv;
    } else if (attrs & TPMA_NV_OWNERREAD) {
      auth = ESYS_TR_RH_OWNER;
    } else {
      return fail(ErrorKind::device, ctx->name() + ": " + what +
                                         " can be read only by the platform; hwca cannot read "
                                         "the EK certificate there");
    }
    const uint16_t chunk = nv_buffer_max(esys);
    Bytes data;
    data.reserve(size);
    while (data.size() < size) {
      uint16_t n = static_cast<uint16_t>(std::min<size_t>(chunk, size - data.size()));
      TPM2B_MAX_NV_BUFFER* part = nullptr;
      rc = Esys_NV_Read(esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                        static_cast<uint16_t>(data.size()), &part);
      EsysPtr<TPM2B_MAX_NV_BUFFER> part_owned(part);
      if (rc != TSS2_RC_SUCCESS) return ctx->error("reading " + what, rc);
      if (part->size == 0 || part->size > n) {
        return fail(ErrorKind::device, ctx->name() + ": reading " + what + " returned " +
                                           std::to_string(part->size) + " bytes for " +
                                           std::to_string(n));
      }
      data.insert(data.end(), part->buffer, part->buffer + part->size);
    }
    return std::optional<Bytes>(std::move(data));
  });
}

ossl::Ptr<X509> parse_cert(const Bytes& der) {
  const unsigned char* p = der.data();
  return ossl::Ptr<X509>(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

struct LoadedEk {
  EkInfo info;
  std::unique_ptr<Primary> primary;
};

// The EK: the first kind of `choice` whose certificate is in NV (else the first kind, without
// a certificate), made from its template and checked against the certificate.
Result<LoadedEk> load_ek(const std::shared_ptr<TpmContext>& ctx, EkChoice choice) {
  std::vector<EkKind> kinds;
  if (choice != EkChoice::ecc) kinds.push_back(EkKind::rsa2048);
  if (choice != EkChoice::rsa) {
    kinds.push_back(EkKind::ecc_p256);
    kinds.push_back(EkKind::ecc_p384);
  }
  LoadedEk ek;
  ek.info.kind = kinds.front();
  for (EkKind kind : kinds) {
    auto nv = read_nv(ctx, nv_index_of(kind));
    if (!nv) return tl::unexpected(nv.error());
    if (!*nv) continue;
    auto der = ek_certificate_der(**nv);
    if (!der) {  // what the TPM holds, not what the user gave: the TPM's fault
      return fail(ErrorKind::device, ctx->name() + ": the EK certificate in NV " +
                                         index_text(nv_index_of(kind)) + ": " +
                                         der.error().message);
    }
    ek.info.kind = kind;
    ek.info.certificate = std::move(*der);
    ek.info.nv_index = nv_index_of(kind);
    break;
  }
  const std::string what = std::string("the ") + ek_kind_name(ek.info.kind) + " EK";
  ek.primary = std::make_unique<Primary>(ctx, ek_template(ek.info.kind), what);
  auto made = ctx->with([&](ESYS_CONTEXT*) { return ek.primary->object(); });
  if (!made) return tl::unexpected(made.error());
  auto area = marshal(ek.primary->pub());
  if (!area) return tl::unexpected(area.error());
  ek.info.public_area = std::move(*area);
  if (!ek.info.certificate.empty()) {
    auto cert = parse_cert(ek.info.certificate);
    auto key = public_key_of(ek.primary->pub().publicArea);
    if (!cert) {
      ERR_clear_error();
      return fail(ErrorKind::device, ctx->name() + ": the EK certificate in NV " +
                                         index_text(ek.info.nv_index) +
                                         " is not an X.509 certificate OpenSSL reads");
    }
    if (!key) return tl::unexpected(key.error());
    if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key->get()) != 1) {
      ERR_clear_error();
      return fail(ErrorKind::device,
                  ctx->name() + ": " + what + " made from the TCG template is not the key of " +
                      "the EK certificate in NV " + index_text(ek.info.nv_index) +
                      " (the TPM's EK uses another template)");
    }
  }
  return ek;
}

}  // namespace

const char* ek_kind_name(EkKind kind) {
  switch (kind) {
    case EkKind::rsa2048:
      return "rsa-2048";
    case EkKind::ecc_p256:
      return "ecc-p256";
    case EkKind::ecc_p384:
      return "ecc-p384";
  }
  return "?";
}

Result<std::vector<uint8_t>> ek_certificate_der(std::span<const uint8_t> nv) {
  if (nv.empty()) return fail(ErrorKind::usage, "it is empty");
  // TCG PC Client Platform TPM Profile: 0x10 0x01 0x00, a u16 length, then the DER.
  if (nv.size() >= 5 && nv[0] == 0x10 && nv[1] == 0x01 && nv[2] == 0x00) {
    const size_t len = (size_t{nv[3]} << 8) | nv[4];
    if (len > nv.size() - 5) {
      return fail(ErrorKind::usage, "its NV header says " + std::to_string(len) +
                                        " bytes, but only " + std::to_string(nv.size() - 5) +
                                        " follow");
    }
    nv = nv.subspan(5, len);
  }
  // The outer SEQUENCE's length (definite form, up to 4 length bytes).
  if (nv.size() < 2 || nv[0] != 0x30) {
    return fail(ErrorKind::usage, "it is not a DER SEQUENCE");
  }
  size_t header = 2, len = nv[1];
  if (len & 0x80) {
    const size_t bytes = len & 0x7f;
    if (bytes == 0 || bytes > 4 || nv.size() < 2 + bytes) {
      return fail(ErrorKind::usage, "its DER length is not one hwca reads");
    }
    len = 0;
    for (size_t i = 0; i < bytes; ++i) len = (len << 8) | nv[2 + i];
    header += bytes;
  }
  if (len > nv.size() - header) {
    return fail(ErrorKind::usage, "its DER is cut short (" + std::to_string(nv.size()) + " bytes)");
  }
  // Padding after the DER (0x00 or 0xFF, as NV indices are sized and erased) is dropped;
  // anything else is not an EK certificate as vendors ship them.
  const auto tail = nv.subspan(header + len);
  if (!std::all_of(tail.begin(), tail.end(), [](uint8_t b) { return b == 0x00 || b == 0xff; })) {
    return fail(ErrorKind::usage, "it is followed by " + std::to_string(tail.size()) +
                                      " bytes that are not padding (0x00 or 0xFF)");
  }
  return std::vector<uint8_t>(nv.begin(), nv.begin() + static_cast<long>(header + len));
}

struct NodeAttestor::State {
  std::shared_ptr<TpmContext> ctx;
  EkInfo ek;
  std::unique_ptr<Primary> ek_key;
  std::unique_ptr<Primary> ak;
  Bytes ak_public;
};

NodeAttestor::NodeAttestor(std::unique_ptr<State> state) : s_(std::move(state)) {}
NodeAttestor::~NodeAttestor() = default;

Result<EkInfo> read_ek(const std::string& tcti, EkChoice choice) {
  auto ctx = TpmContext::open(resolve_tcti(tcti));
  if (!ctx) return tl::unexpected(ctx.error());
  auto ek = load_ek(*ctx, choice);
  if (!ek) return tl::unexpected(ek.error());
  return std::move(ek->info);
}

Result<std::unique_ptr<NodeAttestor>> NodeAttestor::open(const std::string& tcti, EkChoice choice) {
  auto s = std::make_unique<State>();
  auto ctx = TpmContext::open(resolve_tcti(tcti));
  if (!ctx) return tl::unexpected(ctx.error());
  s->ctx = *ctx;
  auto ek = load_ek(s->ctx, choice);
  if (!ek) return tl::unexpected(ek.error());
  s->ek = std::move(ek->info);
  s->ek_key = std::move(ek->primary);
  auto tmpl = ak_template();
  if (!tmpl) return tl::unexpected(tmpl.error());
  s->ak = std::make_unique<Primary>(s->ctx, *tmpl, "the attestation key");
  auto made = s->ctx->with([&](ESYS_CONTEXT*) { return s->ak->object(); });
  if (!made) return tl::unexpected(made.error());
  auto pub = marshal(s->ak->pub());
  if (!pub) return tl::unexpected(pub.error());
  s->ak_public = std::move(*pub);
  return std::unique_ptr<NodeAttestor>(new NodeAttestor(std::move(s)));
}

const EkInfo& NodeAttestor::ek() const { return s_->ek; }
const std::vector<uint8_t>& NodeAttestor::ak_public() const { return s_->ak_public; }
uint64_t NodeAttestor::tpm_commands() const { return s_->ctx->commands_sent(); }

Result<std::vector<uint8_t>> NodeAttestor::activate(std::span<const uint8_t> credential_blob,
                                                    std::span<const uint8_t> encrypted_secret) {
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  size_t at = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(credential_blob.data(), credential_blob.size(), &at,
                                        &blob) != TSS2_RC_SUCCESS ||
      at != credential_blob.size()) {
    return fail(ErrorKind::usage, "the CA's credential blob is not a TPM2B_ID_OBJECT");
  }
  at = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(), encrypted_secret.size(),
                                               &at, &secret) != TSS2_RC_SUCCESS ||
      at != encrypted_secret.size()) {
    return fail(ErrorKind::usage, "the CA's encrypted secret is not a TPM2B_ENCRYPTED_SECRET");
  }
  State& s = *s_;
  auto result = s.ctx->with([&](ESYS_CONTEXT* esys) -> Result<std::vector<uint8_t>> {
    // Both loaded at once: making one may flush the other for room (three slots, and the
    // kubelet key's).
    Result<ESYS_TR> ek = fail(ErrorKind::internal, "unreachable"), ak = ek;
    for (int i = 0; i < 3 && !(ek && ak && s.ek_key->loaded() && s.ak->loaded()); ++i) {
      ak = s.ak->object();
      if (!ak) return tl::unexpected(ak.error());
      ek = s.ek_key->object();
      if (!ek) return tl::unexpected(ek.error());
    }
    if (!s.ek_key->loaded() || !s.ak->loaded()) {
      return fail(ErrorKind::device, s.ctx->name() + " has no room for both the EK and the AK");
    }
    const TPMT_PUBLIC& ek_area = s.ek_key->pub().publicArea;
    ESYS_TR ek_auth = ESYS_TR_PASSWORD;
    TransientHandle session;
    if (!(ek_area.objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
      // The L templates allow the EK's use only under PolicySecret(TPM_RH_ENDORSEMENT).
      TPMT_SYM_DEF sym{};
      sym.algorithm = TPM2_ALG_NULL;
      ESYS_TR tr = ESYS_TR_NONE;
      TSS2_RC rc =
          Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &sym, ek_area.nameAlg, &tr);
      if (rc != TSS2_RC_SUCCESS) return s.ctx->error("starting a policy session for the EK", rc);
      session = TransientHandle(s.ctx, tr);
      TPM2B_TIMEOUT* timeout = nullptr;
      TPMT_TK_AUTH* ticket = nullptr;
      rc = Esys_PolicySecret(esys, ESYS_TR_RH_ENDORSEMENT, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                             ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &timeout, &ticket);
      EsysPtr<TPM2B_TIMEOUT> timeout_owned(timeout);
      EsysPtr<TPMT_TK_AUTH> ticket_owned(ticket);
      if (rc != TSS2_RC_SUCCESS) {
        return s.ctx->error("PolicySecret with the endorsement hierarchy for the EK", rc);
      }
      ek_auth = tr;
    }
    TPM2B_DIGEST* cert_info = nullptr;
    TSS2_RC rc = Esys_ActivateCredential(esys, *ak, *ek, ESYS_TR_PASSWORD, ek_auth, ESYS_TR_NONE,
                                         &blob, &secret, &cert_info);
    EsysPtr<TPM2B_DIGEST> info_owned(cert_info);
    if (rc != TSS2_RC_SUCCESS) {
      auto code = tpm_rc(rc);
      if (code && (*code == TPM2_RC_INTEGRITY || *code == TPM2_RC_VALUE || *code == TPM2_RC_SIZE ||
                   *code == TPM2_RC_ECC_POINT)) {
        return fail(ErrorKind::auth, s.ctx->name() +
                                         " refused the CA's challenge: it was not made for this "
                                         "TPM's EK and attestation key (" +
                                         rc_text(rc) + ")");
      }
      return s.ctx->error("activating the CA's credential", rc);
    }
    return std::vector<uint8_t>(cert_info->buffer, cert_info->buffer + cert_info->size);
  });
  s.ek_key->release();  // the EK has done its part; its slot is the kubelet key's
  return result;
}

Result<CertifyEvidence> NodeAttestor::certify(const std::string& key_uri,
                                              std::span<const uint8_t> qualifying,
                                              const std::string& pin_source) {
  TPM2B_DATA data{};
  if (qualifying.size() > sizeof data.buffer) {
    return fail(ErrorKind::usage, "qualifying data of " + std::to_string(qualifying.size()) +
                                      " bytes: a TPM takes at most " +
                                      std::to_string(sizeof data.buffer));
  }
  data.size = static_cast<UINT16>(qualifying.size());
  std::memcpy(data.buffer, qualifying.data(), qualifying.size());
  OpenOptions options;
  options.tcti = s_->ctx->tcti();
  options.pin_source = pin_source;
  Tpm2KeyStore store(options);
  auto key = store.open_for_use(key_uri);
  if (!key) return tl::unexpected(key.error());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  State& s = *s_;
  auto certified = s.ctx->with([&](ESYS_CONTEXT*) -> Result<TpmKey::Certified> {
    // The AK and the key loaded at once (loading the key takes the SRK's slot a moment, and
    // may flush the AK for it).
    Result<ESYS_TR> ak = fail(ErrorKind::internal, "unreachable");
    for (int i = 0; i < 3 && !(ak && s.ak->loaded()); ++i) {
      ak = s.ak->object();
      if (!ak) return tl::unexpected(ak.error());
      if (auto ok = (*key)->load(); !ok) return tl::unexpected(ok.error());
    }
    if (!s.ak->loaded()) {
      return fail(ErrorKind::device, s.ctx->name() + " has no room for both the AK and the key");
    }
    return (*key)->certify_by(*ak, data, scheme);
  });
  if (!certified) return tl::unexpected(certified.error());
  CertifyEvidence out;
  auto pub = marshal((*key)->public_area());
  if (!pub) return tl::unexpected(pub.error());
  out.key_public = std::move(*pub);
  out.attest.assign(certified->attest.attestationData,
                    certified->attest.attestationData + certified->attest.size);
  out.signature.resize(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&certified->signature, out.signature.data(),
                                     out.signature.size(), &offset) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "cannot marshal the certification's signature");
  }
  out.signature.resize(offset);
  return out;
}

}  // namespace hwca::tokens::tpm2
