// The helpers of integration_env.hpp, shared by the integration test programs (each has a
// main of its own that makes g_token).
#include "integration_env.hpp"

#include "tokens/registry.hpp"

namespace hwca::test {

tokens::OpenOptions open_options() {
  tokens::OpenOptions o;
  o.pin_source = g_token->pin_source();
  return o;
}

tokens::OpenOptions key_options() {
  tokens::OpenOptions o;
  o.pin_source = g_token->pin_source();
  return o;
}

std::string make_key(const std::string& label, tokens::KeyType type) {
  std::string uri = g_token->key_uri(label);
  auto store = tokens::open_store(uri, open_options());
  if (!store) throw std::runtime_error(store.error().message);
  auto info = (*store)->create_key({uri, type});
  if (!info) throw std::runtime_error(info.error().message);
  return uri;
}

}  // namespace hwca::test
