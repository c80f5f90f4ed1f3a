#include "tokens/registry.hpp"

#include <map>
#include <mutex>
#include <vector>

#include "common/uri.hpp"
#include "tokens/call_watch.hpp"

namespace hwca::tokens {

// Built-in backends (each defined in its folder).
void register_pkcs11_backend();
void register_tpm2_backend();

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, KeyStoreFactory> factories;
  std::vector<std::function<void()>> shutdowns;
};

Registry& raw() {
  static auto* r = new Registry();  // never destroyed: used from exit paths
  return *r;
}

Registry& registry() {
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    register_pkcs11_backend();
    register_tpm2_backend();
  });
  return raw();
}

}  // namespace

void register_backend(const std::string& scheme, KeyStoreFactory factory,
                      std::function<void()> shutdown) {
  auto& r = raw();
  std::lock_guard lock(r.mu);
  r.factories[scheme] = std::move(factory);
  if (shutdown) r.shutdowns.push_back(std::move(shutdown));
}

std::string known_schemes() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::string out;
  for (const auto& [scheme, _] : r.factories) out += (out.empty() ? "" : ", ") + scheme + ":";
  return out;
}

Result<std::shared_ptr<KeyStore>> open_store(const std::string& uri, const OpenOptions& options) {
  std::string scheme = uri_scheme(uri);
  KeyStoreFactory factory;
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    if (auto it = r.factories.find(scheme); it != r.factories.end()) factory = it->second;
  }
  if (!factory) {
    return fail(ErrorKind::usage,
                (scheme.empty() ? std::string("a key URI needs a scheme")
                                : "'" + scheme + ":' is not a key URI scheme hwca knows") +
                    " (expected " + known_schemes() + ")");
  }
  return factory(uri, options);
}

void shutdown_all() {
  std::vector<std::function<void()>> shutdowns;
  {
    auto& r = raw();
    std::lock_guard lock(r.mu);
    shutdowns = r.shutdowns;
  }
  for (auto& f : shutdowns) f();
  stop_call_watchdog();
}

}  // namespace hwca::tokens
