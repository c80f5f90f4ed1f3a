// Backends register by URI scheme; callers open the store that serves a key URI.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "tokens/keystore.hpp"

namespace hwca::tokens {

using KeyStoreFactory =
    std::function<Result<std::shared_ptr<KeyStore>>(const std::string& uri, const OpenOptions&)>;

// Register a backend for a scheme ("pkcs11"). Built-in backends register themselves the
// first time the registry is used.
// `shutdown` runs in shutdown_all().
void register_backend(const std::string& scheme, KeyStoreFactory factory,
                      std::function<void()> shutdown = {});

// The store for a key or token URI. Stores are shared: opening the same token twice gives
// the same object (one login per token and process).
Result<std::shared_ptr<KeyStore>> open_store(const std::string& uri, const OpenOptions& options);

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
