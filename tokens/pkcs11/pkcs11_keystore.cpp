#include "tokens/pkcs11/pkcs11_keystore.hpp"

#include "tokens/pkcs11/keygen.hpp"
#include "tokens/pkcs11/objects.hpp"
#include "tokens/pkcs11/signer.hpp"
#include "tokens/registry.hpp"

namespace hwca::tokens::pkcs11 {

Backend backend() {
  return Backend{
      "pkcs11",
      [](const Uri& uri, const OpenOptions& options) -> Result<std::shared_ptr<KeyStore>> {
        auto parsed = pkcs11_uri_of(uri);
        if (!parsed) return tl::unexpected(parsed.error());
        auto module = Module::open(resolve_module_path(*parsed, options.module));
        if (!module) return tl::unexpected(module.error());
        return std::make_shared<Pkcs11KeyStore>(*module, options);
      },
      [] { Module::close_all(); },
      {}};
}

Result<Pkcs11KeyStore::Resolved> Pkcs11KeyStore::open_token(const Uri& parsed, bool login) {
  auto uri = pkcs11_uri_of(parsed);
  if (!uri) return tl::unexpected(uri.error());
  std::string path = resolve_module_path(*uri, options_.module);
  if (path != module_->path()) {
    return fail(ErrorKind::usage,
                "the URI names module " + path + " but this store serves " + module_->path());
  }
  auto token = module_->find_token(*uri);
  if (!token) return tl::unexpected(token.error());
  PinSources pins{{options_.pin_source, uri->pin_source.value_or(""), options_.default_pin_source},
                  uri->has_pin_value,
                  options_.pin_prompt};
  if (login) {
    if (auto ok = (*token)->ensure_login(pins); !ok) return tl::unexpected(ok.error());
  }
  return Resolved{std::move(*uri), std::move(*token)};
}

Result<ossl::Ptr<EVP_PKEY>> Pkcs11KeyStore::get_public_key(const Uri& uri) {
  // A public key object readable without a login (hwca makes them CKA_PRIVATE false) needs
  // no PIN; otherwise log in and take the private key's public half.
  {
    auto r = open_token(uri, /*login=*/false);
    if (!r) return tl::unexpected(r.error());
    auto lease = r->token->session();
    if (!lease) return tl::unexpected(lease.error());
    auto pub = find_key(*r->token, lease->get(), r->uri, CKO_PUBLIC_KEY);
    if (pub) return public_key_of(*r->token, lease->get(), *pub);
    if (pub.error().kind != ErrorKind::not_found) return tl::unexpected(pub.error());
  }
  auto signer = create_signer(uri);
  if (!signer) return tl::unexpected(signer.error());
  if (EVP_PKEY_up_ref((*signer)->public_key()) != 1) {
    return fail(ErrorKind::internal, "cannot reference a public key");
  }
  return ossl::Ptr<EVP_PKEY>((*signer)->public_key());
}

Result<std::shared_ptr<Signer>> Pkcs11KeyStore::create_signer(const Uri& uri) {
  auto r = open_token(uri);
  if (!r) return tl::unexpected(r.error());
  if (r->uri.type && *r->uri.type != "private") {
    return fail(ErrorKind::usage,
                "a signing key URI must name a private key, not type=" + *r->uri.type);
  }
  auto lease = r->token->session();
  if (!lease) return tl::unexpected(lease.error());
  auto key = find_key(*r->token, lease->get(), r->uri, CKO_PRIVATE_KEY);
  if (!key) return tl::unexpected(key.error());
  if (key->key_type != CKK_RSA && key->key_type != CKK_EC) {
    return fail(ErrorKind::usage, "key '" + key->label + "' is neither RSA nor EC");
  }
  auto pub = read_public_key(*r->token, lease->get(), *key);
  if (!pub) return tl::unexpected(pub.error());
  std::string name = key_uri(r->token->info().uri, key->label, key->id);
  return std::make_shared<Pkcs11Signer>(r->token, std::move(*key), std::move(*pub), name);
}

Result<KeyInfo> Pkcs11KeyStore::create_key(const CreateKeyRequest& request) {
  auto parsed = parse_uri(request.uri);
  if (!parsed) return tl::unexpected(parsed.error());
  auto r = open_token(*parsed);
  if (!r) return tl::unexpected(r.error());
  return generate_key_pair(*r->token, r->uri, request.type);
}

Result<std::vector<TokenInfo>> Pkcs11KeyStore::list_tokens() { return module_->tokens(); }

Result<TokenInfo> Pkcs11KeyStore::init_token(const TokenInitRequest& request) {
  if (request.label.empty() || request.label.size() > 32) {
    return fail(ErrorKind::usage, "a token label must have 1 to 32 characters");
  }
  auto so_pin = read_pin_source(request.so_pin_source);
  if (!so_pin) return tl::unexpected(so_pin.error());
  auto user_pin = read_pin_source(request.user_pin_source);
  if (!user_pin) return tl::unexpected(user_pin.error());
  return module_->init_token(request.label, *so_pin, *user_pin);
}

Result<std::vector<KeyInfo>> Pkcs11KeyStore::list_keys(const std::string& token_uri) {
  auto parsed = parse_uri(token_uri);
  if (!parsed) return tl::unexpected(parsed.error());
  auto r = open_token(*parsed);
  if (!r) return tl::unexpected(r.error());
  auto lease = r->token->session();
  if (!lease) return tl::unexpected(lease.error());
  auto keys = find_all_keys(*r->token, lease->get(), CKO_PRIVATE_KEY);
  if (!keys) return tl::unexpected(keys.error());
  std::vector<KeyInfo> out;
  for (const auto& k : *keys) {
    KeyInfo info;
    info.label = k.label;
    info.id_hex = hex(k.id);
    info.uri = key_uri(r->token->info().uri, k.label, k.id);
    auto pub = read_public_key(*r->token, lease->get(), k);
    info.type = pub ? key_type_of(pub->get()) : (k.key_type == CKK_RSA ? "rsa" : "ec");
    out.push_back(std::move(info));
  }
  return out;
}

Result<KeyAttributes> Pkcs11KeyStore::inspect_key(const std::string& uri) {
  auto parsed = parse_uri(uri);
  if (!parsed) return tl::unexpected(parsed.error());
  auto r = open_token(*parsed);
  if (!r) return tl::unexpected(r.error());
  auto lease = r->token->session();
  if (!lease) return tl::unexpected(lease.error());
  auto key = find_key(*r->token, lease->get(), r->uri, CKO_PRIVATE_KEY);
  if (!key) return tl::unexpected(key.error());
  auto pub = read_public_key(*r->token, lease->get(), *key);
  if (!pub) return tl::unexpected(pub.error());
  KeyAttributes out;
  out.key.label = key->label;
  out.key.id_hex = hex(key->id);
  out.key.uri = key_uri(r->token->info().uri, key->label, key->id);
  out.key.type = key_type_of(pub->get());
  out.bits = EVP_PKEY_get_bits(pub->get());
  auto pem = ossl::public_key_pem(pub->get());
  if (!pem) return tl::unexpected(pem.error());
  out.public_pem = std::move(*pem);
  const std::pair<const char*, CK_ATTRIBUTE_TYPE> attrs[] = {
      {"sensitive", CKA_SENSITIVE},
      {"extractable", CKA_EXTRACTABLE},
      {"always-sensitive", CKA_ALWAYS_SENSITIVE},
      {"never-extractable", CKA_NEVER_EXTRACTABLE},
      {"local", CKA_LOCAL},
      {"private", CKA_PRIVATE},
      {"token", CKA_TOKEN}};
  for (const auto& [name, type] : attrs) {
    auto value = get_bool(*r->token, lease->get(), key->handle, type);
    if (!value) return tl::unexpected(value.error());
    out.flags.emplace_back(name, *value);
  }
  return out;
}

}  // namespace hwca::tokens::pkcs11
