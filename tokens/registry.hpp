// The key stores by URI scheme: callers open the store that serves a key URI. The backends
// are listed in registry.cpp (each gives its Backend); they do not know the registry.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tokens/keystore.hpp"

namespace hwca::tokens {

using KeyStoreFactory =
    std::function<Result<std::shared_ptr<KeyStore>>(const Uri& uri, const OpenOptions&)>;

// A backend: the URI scheme it serves ("pkcs11"), how it opens a store, and what
// shutdown_all() runs for it.
struct Backend {
  std::string scheme;
  KeyStoreFactory open;
  std::function<void()> shutdown;
  // The URI as a configuration keeps it, naming the same key from any folder (tpm2: a key
  // file's relative path made absolute); empty: URIs are kept as they are.
  std::function<Result<std::string>(const std::string& uri)> stored_uri;
};

// The URI as a configuration keeps it (Backend::stored_uri of its scheme); a URI of no
// known scheme, or of a backend without stored_uri, comes back as it is.
Result<std::string> stored_key_uri(const std::string& uri);

// The store for a key or token URI. Stores are shared: opening the same token twice gives
// the same object (one login per token and process).
Result<std::shared_ptr<KeyStore>> open_store(const Uri& uri, const OpenOptions& options);
// The same for a URI as text: its scheme checked first, then parsed (once) and as above.
Result<std::shared_ptr<KeyStore>> open_store(std::string_view uri, const OpenOptions& options);

// Schemes with a registered backend, for messages ("pkcs11, tpm2").
std::string known_schemes();

// An optional ability of a store, or nullptr: ability<KeyLister>(store).
template <typename Ability>
Ability* ability(const std::shared_ptr<KeyStore>& store) {
  return dynamic_cast<Ability*>(store.get());
}

// Close every store (log out, close sessions) before the process exits: some modules crash
// if left to static destructors after OpenSSL has cleaned up.
void shutdown_all();

}  // namespace hwca::tokens
