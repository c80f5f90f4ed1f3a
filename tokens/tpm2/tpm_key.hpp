// One signing key in a TPM, as hwca uses it: from a "TSS2 PRIVATE KEY" file (loaded under
// the SRK when first used, kept loaded, flushed when the TPM needs the room or the key is
// dropped) or at a persistent handle. Also making keys: TPM2_Create under the SRK, and
// TPM2_EvictControl to keep one at a handle.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/secure_string.hpp"
#include "tokens/keystore.hpp"
#include "tokens/tpm2/key_file.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::tokens::tpm2 {

class TpmKey : public Evictable {
 public:
  // A key file's key. Nothing is sent to the TPM until first use; its public area is
  // checked to be a signing key hwca uses (check_signing_key). `name` is its path.
  static Result<std::shared_ptr<TpmKey>> from_file(std::shared_ptr<TpmContext> ctx, KeyFile file,
                                                   std::string name);
  // The key at a persistent handle (read from the TPM now: not_found when nothing is there).
  static Result<std::shared_ptr<TpmKey>> from_handle(std::shared_ptr<TpmContext> ctx,
                                                     TPM2_HANDLE handle);
  ~TpmKey() override;
  TpmKey(const TpmKey&) = delete;
  TpmKey& operator=(const TpmKey&) = delete;

  // The password the key's uses are authorised with (empty: none); at most 32 bytes (the
  // size of the key's name algorithm's digest), else usage.
  Status set_password(SecureString password);
  // True when a key file says the key has a password (a persistent key cannot tell).
  bool needs_password() const { return file_ && !file_->empty_auth; }

  const TPM2B_PUBLIC& public_area() const { return public_; }
  const std::optional<KeyFile>& file() const { return file_; }
  std::optional<TPM2_HANDLE> handle() const { return persistent_handle_; }
  // "TPM key /path/k.pem" or "TPM key 0x81000010", for messages.
  const std::string& describe() const { return describe_; }
  const std::shared_ptr<TpmContext>& context() const { return ctx_; }

  // Load a file key now (persistent keys are always there): a key file from another TPM
  // or parent fails here, before anything is signed.
  Status load();

  // TPM2_Sign of a host-computed digest. ECDSA comes back as r and s, RSA as the block.
  // A wrong password is reported once, with the TPM's dictionary-attack state; later calls
  // with that password on that key fail the same way without asking the TPM again, from
  // this TpmKey or any other of the process (TpmContext::remember_refusal), so a server
  // that keeps signing or reopening the key cannot lock the TPM out.
  Result<TPMT_SIGNATURE> sign(const TPMT_SIG_SCHEME& scheme, const TPM2B_DIGEST& digest);

  // TPM2_Certify of this key (authorised with its password) by `signer`, a loaded
  // attestation key whose authorisation is empty, with `qualifying` as qualifyingData and
  // `scheme` (ECDSA or RSASSA with a hash, as the signer allows). A wrong password is
  // handled as in sign().
  struct Certified {
    TPM2B_ATTEST attest;  // the TPMS_ATTEST, marshalled by the TPM
    TPMT_SIGNATURE signature;
  };
  Result<Certified> certify_by(ESYS_TR signer, const TPM2B_DATA& qualifying,
                               const TPMT_SIG_SCHEME& scheme);

  // The public area as the TPM reports it (TPM2_ReadPublic of the loaded object): for
  // hwca key show, this proves the TPM holds the key and shows its real attributes.
  Result<TPM2B_PUBLIC> read_public();

  void evict() override;

 private:
  friend Status persist_key(const std::shared_ptr<TpmContext>& ctx, const KeyFile& file,
                            TPM2_HANDLE handle);
  TpmKey(std::shared_ptr<TpmContext> ctx, std::string describe)
      : ctx_(std::move(ctx)), describe_(std::move(describe)) {}
  // The loaded object (call under the context's lock): loads a file key if needed, making
  // room; in a new generation of the context (a reconnection), loads it again, or opens the
  // persistent handle again.
  Result<ESYS_TR> object();
  // Under the context's lock: ESYS's record of the persistent key, checked to be the key
  // this object was made for when `public_` is known.
  Status open_persistent(ESYS_CONTEXT* esys, bool check_same);
  // r = attempt(); when it failed because the TPM was lost (TpmContext::is_lost), reconnect
  // (TpmContext::recover: at most once a second) and attempt once more.
  template <typename Fn>
  auto recovering(Fn&& attempt) -> decltype(attempt());
  tl::unexpected<Error> auth_error(ESYS_CONTEXT* esys, TSS2_RC rc);
  // Under the context's lock: the key loaded and its password set, rc = command(esys, key),
  // the password taken back out of ESYS's record. A rejected password is auth_error's;
  // another failure is "`what` <the key>: rc".
  Status with_password(const std::string& what,
                       const std::function<TSS2_RC(ESYS_CONTEXT*, ESYS_TR)>& command);

  std::shared_ptr<TpmContext> ctx_;
  std::string describe_;
  std::optional<KeyFile> file_;
  std::optional<TPM2_HANDLE> persistent_handle_;
  TPM2B_PUBLIC public_{};
  TransientHandle loaded_;
  PersistentHandle persistent_;
  SecureString password_;
  std::string refusal_id_;  // the key's Name and SHA-256 of the password
};

// What a new key is made with.
struct NewKey {
  KeyType type = KeyType::ec_p256;
  SecureString password;  // empty: none (the file says emptyAuth TRUE, the key is noDA)
};

// Ask the TPM whether it supports `type` (TPM2_TestParms): usage error naming the type
// when it does not.
Status check_supported(const std::shared_ptr<TpmContext>& ctx, KeyType type);

// TPM2_Create under the SRK: the key's blobs, as a key file (parent 0x40000001).
Result<KeyFile> create_key(const std::shared_ptr<TpmContext>& ctx, const NewKey& key);

// conflict when the TPM holds an object at `handle`.
Status check_handle_free(const std::shared_ptr<TpmContext>& ctx, TPM2_HANDLE handle);

// Load `file` and make it persistent at `handle` (TPM2_EvictControl with the owner's empty
// authorisation). conflict when an object is there already.
Status persist_key(const std::shared_ptr<TpmContext>& ctx, const KeyFile& file, TPM2_HANDLE handle);

}  // namespace hwca::tokens::tpm2
