#include "k8s/service_account.hpp"

#include "common/file_util.hpp"
#include "k8s/leaf_key.hpp"
#include "k8s/plan.hpp"

namespace hwca::k8s {
namespace {

constexpr tokens::KeyType kServiceAccountKeyType = tokens::KeyType::rsa_2048;

}  // namespace

Result<std::optional<SecureString>> existing_service_account_key(const OutputTree& tree,
                                                                 const Cluster& cluster) {
  std::optional<SecureString> found;
  ossl::Ptr<EVP_PKEY> found_key;
  std::string found_at;
  for (const Node& node : cluster.nodes) {
    if (node.role != Role::control_plane) continue;
    const std::string path = tree.node_path(node.name, kServiceAccountKey);
    auto text = read_file(path, 1 << 20);
    if (!text) {
      if (text.error().kind == ErrorKind::not_found) continue;
      return tl::unexpected(text.error());
    }
    SecureString pem(*text);
    OPENSSL_cleanse(text->data(), text->size());
    auto key = parse_private_key(pem.view(), path);
    if (!key) return fail(ErrorKind::conflict, key.error().message + "; fix or remove it");
    if (!found) {
      found = std::move(pem);
      found_key = std::move(*key);
      found_at = path;
    } else if (EVP_PKEY_eq(found_key.get(), key->get()) != 1) {
      return fail(ErrorKind::conflict, path + " and " + found_at +
                                           " hold different service-account keys; every "
                                           "control-plane node needs the same (keep one)");
    }
  }
  return found;
}

Result<ServiceAccount> service_account_pair(std::optional<SecureString> pem, OSSL_LIB_CTX* libctx) {
  ServiceAccount sa;
  ossl::Ptr<EVP_PKEY> key;
  if (pem) {
    auto parsed = parse_private_key(pem->view(), kServiceAccountKey);
    if (!parsed) return tl::unexpected(parsed.error());
    key = std::move(*parsed);
    sa.key_pem = std::move(*pem);
  } else {
    auto made = generate_leaf_key(libctx, kServiceAccountKeyType);
    if (!made) return tl::unexpected(made.error());
    auto text = private_key_pem(made->get());
    if (!text) return tl::unexpected(text.error());
    key = std::move(*made);
    sa.key_pem = std::move(*text);
  }
  auto pub = ossl::public_key_pem(key.get());
  if (!pub) return tl::unexpected(pub.error());
  sa.pub_pem = std::move(*pub);
  return sa;
}

}  // namespace hwca::k8s
