#include "tokens/tpm2/tpm2_keystore.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/text.hpp"
#include "tokens/registry.hpp"
#include "tokens/tpm2/key_template.hpp"
#include "tokens/tpm2/tpm2_signer.hpp"

namespace hwca::tokens::tpm2 {

Backend backend() {
  return Backend{
      "tpm2",
      [](const Uri&, const OpenOptions& options) -> Result<std::shared_ptr<KeyStore>> {
        return std::make_shared<Tpm2KeyStore>(options);
      },
      [] { TpmContext::close_all(); },
      absolute_key_uri};
}

namespace {

// A key's password: the URI's own pin-source first (it names this key's password, while
// --pin-source may be a token's PIN in the same command), then (unless `uri_only`)
// --pin-source, then (when `prompt`) a prompt; empty when none is given. $HWCA_PIN_SOURCE
// (a token PIN) is never sent to a TPM.
Result<SecureString> password(const OpenOptions& options, const Tpm2Uri& uri,
                              const std::string& what, bool uri_only, bool prompt) {
  PinSources sources{{uri.pin_source.value_or(""), uri_only ? "" : options.pin_source},
                     uri.has_pin_value,
                     prompt ? options.pin_prompt : PinCallback()};
  if (!sources.any() && !sources.uri_has_pin_value) return SecureString();
  return obtain_pin(sources, what);
}

}  // namespace

Tpm2KeyStore::Tpm2KeyStore(OpenOptions options)
    : options_(std::move(options)), tcti_(resolve_tcti(options_.tcti)) {}

Result<std::shared_ptr<TpmContext>> Tpm2KeyStore::context() const {
  return TpmContext::open(tcti_);
}

Result<std::shared_ptr<TpmKey>> Tpm2KeyStore::open_key(const Tpm2Uri& uri) const {
  if (uri.file) {
    auto file = read_key_file(*uri.file);
    if (!file) return tl::unexpected(file.error());
    auto ctx = context();
    if (!ctx) return tl::unexpected(ctx.error());
    return TpmKey::from_file(*ctx, std::move(*file), *uri.file);
  }
  auto ctx = context();
  if (!ctx) return tl::unexpected(ctx.error());
  return TpmKey::from_handle(*ctx, *uri.handle);
}

Result<ossl::Ptr<EVP_PKEY>> Tpm2KeyStore::get_public_key(const Uri& parsed) {
  auto uri = tpm2_uri_of(parsed);
  if (!uri) return tl::unexpected(uri.error());
  if (uri->file) {
    auto file = read_key_file(*uri->file);
    if (!file) return tl::unexpected(file.error());
    if (auto ok = check_signing_key(file->pub.publicArea, "TPM key " + *uri->file); !ok) {
      return tl::unexpected(ok.error());
    }
    return public_key_of(file->pub.publicArea);
  }
  auto key = open_key(*uri);
  if (!key) return tl::unexpected(key.error());
  return public_key_of((*key)->public_area().publicArea);
}

Result<std::shared_ptr<Signer>> Tpm2KeyStore::create_signer(const Uri& parsed) {
  auto uri = tpm2_uri_of(parsed);
  if (!uri) return tl::unexpected(uri.error());
  auto key = open_for_use(*uri);
  if (!key) return tl::unexpected(key.error());
  auto pub = public_key_of((*key)->public_area().publicArea);
  if (!pub) return tl::unexpected(pub.error());
  return std::make_shared<Tpm2Signer>(std::move(*key), std::move(*pub), format_tpm2_uri(*uri));
}

Result<std::shared_ptr<TpmKey>> Tpm2KeyStore::open_for_use(const std::string& text) {
  auto uri = parse_tpm2_uri(text);
  if (!uri) return tl::unexpected(uri.error());
  return open_for_use(*uri);
}

Result<std::shared_ptr<TpmKey>> Tpm2KeyStore::open_for_use(const Tpm2Uri& uri) {
  if (uri.type == "public") {
    return fail(ErrorKind::usage, "a signing key URI must name a private key, not type=public");
  }
  auto key = open_key(uri);
  if (!key) return tl::unexpected(key.error());
  // A file says whether its key has a password. A persistent key cannot say, so it gets one
  // only from its own URI: a --pin-source meant for a token's PIN must not reach the TPM
  // as a wrong password (each one counts towards the dictionary-attack lockout).
  bool needs = (*key)->needs_password();
  if (needs || uri.handle) {
    auto pw = password(options_, uri, "password for " + (*key)->describe(),
                       /*uri_only=*/!needs, /*prompt=*/needs);
    if (!pw) return tl::unexpected(pw.error());
    if (needs && pw->empty()) {
      return fail(ErrorKind::auth, (*key)->describe() +
                                       " has a password: give --pin-source env:NAME or "
                                       "file:PATH, or pin-source= in the URI");
    }
    if (auto ok = (*key)->set_password(std::move(*pw)); !ok) return tl::unexpected(ok.error());
  }
  // Loaded now: a key from another TPM fails here, before a caller starts signing.
  if (auto ok = (*key)->load(); !ok) return tl::unexpected(ok.error());
  return key;
}

Result<KeyInfo> Tpm2KeyStore::create_key(const CreateKeyRequest& request) {
  auto uri = parse_tpm2_uri(request.uri);
  if (!uri) return tl::unexpected(uri.error());
  if (uri->type) {
    return fail(ErrorKind::usage, "a new key's tpm2 URI takes no type= attribute");
  }
  if (uri->file) {
    auto path = absolute_key_path(*uri->file);
    if (!path) return tl::unexpected(path.error());
    struct stat st {};
    if (::lstat(path->c_str(), &st) == 0) {
      return fail(ErrorKind::conflict,
                  *path +
                      " exists already; a key file is never overwritten (the key in it "
                      "would be lost): choose another path or remove it first");
    }
    if (::access(path->substr(0, path->rfind('/') + 1).c_str(), W_OK) != 0) {
      return fail(ErrorKind::io, "cannot write " + *path + ": " + error_text(errno));
    }
    uri->file = *path;
  }
  auto ctx = context();
  if (!ctx) return tl::unexpected(ctx.error());
  if (uri->handle) {
    if (auto ok = check_handle_free(*ctx, *uri->handle); !ok) return tl::unexpected(ok.error());
  }
  NewKey spec;
  spec.type = request.type;
  // As when it is used: a persistent key's password only from its own URI.
  auto pw = password(options_, *uri, "password for the new TPM key",
                     /*uri_only=*/uri->handle.has_value(), /*prompt=*/false);
  if (!pw) return tl::unexpected(pw.error());
  spec.password = std::move(*pw);
  auto file = tpm2::create_key(*ctx, spec);
  if (!file) return tl::unexpected(file.error());
  if (uri->file) {
    if (auto ok = write_key_file(*uri->file, *file); !ok) return tl::unexpected(ok.error());
  } else {
    if (auto ok = persist_key(*ctx, *file, *uri->handle); !ok) return tl::unexpected(ok.error());
  }
  KeyInfo info;
  info.uri = format_tpm2_uri(*uri);
  info.label = uri->file ? *uri->file : handle_text(*uri->handle);
  auto name = key_name_hex(file->pub);
  info.id_hex = name ? *name : "";
  info.type = key_type_name(request.type);
  return info;
}

Result<KeyAttributes> Tpm2KeyStore::inspect_key(const std::string& text) {
  auto uri = parse_tpm2_uri(text);
  if (!uri) return tl::unexpected(uri.error());
  auto key = open_key(*uri);
  if (!key) return tl::unexpected(key.error());
  auto pub = (*key)->read_public();  // from the TPM: the key is there and loads
  if (!pub) return tl::unexpected(pub.error());
  auto pkey = public_key_of(pub->publicArea);
  if (!pkey) return tl::unexpected(pkey.error());
  KeyAttributes out;
  if (uri->file) {
    auto path = absolute_key_path(*uri->file);
    if (path) uri->file = *path;
  }
  out.key.uri = format_tpm2_uri(*uri);
  out.key.label = uri->file ? *uri->file : handle_text(*uri->handle);
  auto name = key_name_hex(*pub);
  out.key.id_hex = name ? *name : "";
  out.key.type = key_type_of(pkey->get());
  out.bits = EVP_PKEY_get_bits(pkey->get());
  out.flags = attribute_flags(pub->publicArea.objectAttributes);
  if ((*key)->file()) out.flags.emplace_back("password", !(*key)->file()->empty_auth);
  out.flags.emplace_back("persistent", uri->handle.has_value());
  auto pem = ossl::public_key_pem(pkey->get());
  if (!pem) return tl::unexpected(pem.error());
  out.public_pem = std::move(*pem);
  return out;
}

}  // namespace hwca::tokens::tpm2
