// Keys in a token or TPM, as the commands reach them.
#include "cli/token_keys.hpp"

#include "tokens/registry.hpp"

namespace hwca::cli {

Result<tokens::KeyInfo> generate_key(const Context& ctx, const std::string& uri,
                                     const std::string& type) {
  auto t = tokens::parse_key_type(type);
  if (!t) return tl::unexpected(t.error());
  auto store = tokens::open_store(uri, ctx.open_options());
  if (!store) return tl::unexpected(store.error());
  return (*store)->create_key({uri, *t});
}

std::string generated_text(const tokens::KeyInfo& key) {
  bool tpm = key.uri.starts_with("tpm2:");
  return "generated " + key.type + " key '" + key.label + "' (" + (tpm ? "name " : "id ") +
         key.id_hex + ") inside the " +
         (!tpm ? "token; it cannot be exported"
          : key.uri.starts_with("tpm2:file=")
              ? "TPM; it never leaves it (the key file holds a blob only this TPM can load)"
              : "TPM, where it stays at that handle; it never leaves it") +
         "\n";
}

Result<tokens::KeyAttributes> inspect_key(const Context& ctx, const std::string& uri) {
  auto store = tokens::open_store(uri, ctx.open_options());
  if (!store) return tl::unexpected(store.error());
  auto* inspector = tokens::ability<tokens::KeyInspector>(*store);
  if (inspector == nullptr) return fail(ErrorKind::usage, "this key store cannot show keys");
  return inspector->inspect_key(uri);
}

}  // namespace hwca::cli
