#include "tokens/registry.hpp"

#include <map>
#include <vector>

#include "common/uri.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/pkcs11/pkcs11_keystore.hpp"
#include "tokens/tpm2/tpm2_keystore.hpp"

namespace hwca::tokens {

namespace {

// The backends, in the order shutdown_all() closes them; by scheme for the lookups.
struct Registry {
  std::vector<Backend> backends{pkcs11::backend(), tpm2::backend()};
  std::map<std::string, const Backend*> by_scheme;
  Registry() {
    for (const auto& b : backends) by_scheme[b.scheme] = &b;
  }
};

const Registry& registry() {
  static const auto* r = new Registry();  // never destroyed: used from exit paths
  return *r;
}

}  // namespace

std::string known_schemes() {
  std::string out;
  for (const auto& [scheme, _] : registry().by_scheme) {
    out += (out.empty() ? "" : ", ") + scheme + ":";
  }
  return out;
}

namespace {

Result<const Backend*> backend_for(const std::string& scheme) {
  const auto& by_scheme = registry().by_scheme;
  auto it = by_scheme.find(scheme);
  if (it == by_scheme.end()) {
    return fail(ErrorKind::usage,
                (scheme.empty() ? std::string("a key URI needs a scheme")
                                : "'" + scheme + ":' is not a key URI scheme hwca knows") +
                    " (expected " + known_schemes() + ")");
  }
  return it->second;
}

}  // namespace

Result<std::shared_ptr<KeyStore>> open_store(const Uri& uri, const OpenOptions& options) {
  auto backend = backend_for(uri.scheme);
  if (!backend) return tl::unexpected(backend.error());
  return (*backend)->open(uri, options);
}

Result<std::shared_ptr<KeyStore>> open_store(std::string_view uri, const OpenOptions& options) {
  auto backend = backend_for(uri_scheme(uri));
  if (!backend) return tl::unexpected(backend.error());
  auto parsed = parse_uri(uri);
  if (!parsed) return tl::unexpected(parsed.error());
  return (*backend)->open(*parsed, options);
}

Result<std::string> stored_key_uri(const std::string& uri) {
  const auto& by_scheme = registry().by_scheme;
  auto it = by_scheme.find(uri_scheme(uri));
  if (it == by_scheme.end() || !it->second->stored_uri) return uri;
  return it->second->stored_uri(uri);
}

void shutdown_all() {
  for (const auto& b : registry().backends) {
    if (b.shutdown) b.shutdown();
  }
  stop_call_watchdog();
}

}  // namespace hwca::tokens
