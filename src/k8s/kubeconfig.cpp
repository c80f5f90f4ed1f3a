#include "k8s/kubeconfig.hpp"

#include <openssl/crypto.h>
#include <yaml-cpp/yaml.h>

#include <optional>

#include "common/base64.hpp"
#include "common/text.hpp"

namespace hwca::k8s {
namespace {

// The named entry of a kubeconfig list (clusters, contexts, users).
std::optional<YAML::Node> find_named(const YAML::Node& list, const std::string& name) {
  if (!list.IsSequence()) return std::nullopt;
  for (const auto& item : list) {
    if (item.IsMap() && item["name"] && item["name"].IsScalar() &&
        item["name"].as<std::string>() == name) {
      return item;
    }
  }
  return std::nullopt;
}

Result<std::string> text_field(const YAML::Node& map, const char* key, const std::string& where) {
  if (!map.IsMap() || !map[key] || !map[key].IsScalar()) {
    return fail(ErrorKind::usage, where + ": no " + key);
  }
  return map[key].as<std::string>();
}

Result<std::string> data_field(const YAML::Node& map, const char* key, const std::string& where) {
  auto text = text_field(map, key, where);
  if (!text) return tl::unexpected(text.error());
  auto data = base64_decode(*text);
  OPENSSL_cleanse(text->data(), text->size());
  if (!data) return fail(ErrorKind::usage, where + ": " + key + " is not base64");
  return std::move(*data);
}

// The double-quoted value of the first `key` after `from` in text render_kubeconfig made.
std::optional<std::string_view> quoted_value(std::string_view text, std::string_view key,
                                             size_t& from) {
  const std::string marker = std::string(key) + ": \"";
  size_t start = text.find(marker, from);
  if (start == std::string_view::npos) return std::nullopt;
  start += marker.size();
  size_t end = text.find('"', start);
  if (end == std::string_view::npos) return std::nullopt;
  from = end + 1;
  return text.substr(start, end - start);
}

}  // namespace

SecureString render_kubeconfig(const Kubeconfig& c) {
  const std::string context = c.user + "@" + c.cluster;
  std::string cert_b64 = base64_encode(c.cert_pem);
  std::string key_b64 = base64_encode(c.key_pem.view());
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  // The base64 values double-quoted: as plain scalars yaml-cpp checks every character of
  // them (300 us a kubeconfig against 70; docs/performance.md).
  out << YAML::Key << "certificate-authority-data" << YAML::Value << YAML::DoubleQuoted
      << base64_encode(c.ca_pem);
  out << YAML::Key << "server" << YAML::Value << c.server << YAML::EndMap;
  out << YAML::Key << "name" << YAML::Value << c.cluster << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << c.cluster;
  out << YAML::Key << "user" << YAML::Value << c.user << YAML::EndMap;
  out << YAML::Key << "name" << YAML::Value << context << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "current-context" << YAML::Value << context;
  out << YAML::Key << "preferences" << YAML::Value << YAML::BeginMap << YAML::EndMap;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.user;
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "client-certificate-data" << YAML::Value << YAML::DoubleQuoted << cert_b64;
  out << YAML::Key << "client-key-data" << YAML::Value << YAML::DoubleQuoted << key_b64;
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  OPENSSL_cleanse(key_b64.data(), key_b64.size());
  SecureString text(std::string_view(out.c_str(), out.size()));
  text.push_back('\n');
  // The emitter's buffer holds the key too.
  OPENSSL_cleanse(const_cast<char*>(out.c_str()), out.size());
  return text;
}

std::optional<Kubeconfig> match_rendered(std::string_view text, const Kubeconfig& frame) {
  size_t at = 0;
  auto cert_b64 = quoted_value(text, "client-certificate-data", at);
  auto key_b64 = cert_b64 ? quoted_value(text, "client-key-data", at) : std::nullopt;
  auto cert = cert_b64 ? base64_decode(*cert_b64) : std::nullopt;
  auto key = cert && key_b64 ? base64_decode(*key_b64) : std::nullopt;
  if (!key) return std::nullopt;
  Kubeconfig c;
  c.cluster = frame.cluster;
  c.server = frame.server;
  c.ca_pem = frame.ca_pem;
  c.user = frame.user;
  c.cert_pem = std::move(*cert);
  c.key_pem = SecureString(*key);
  OPENSSL_cleanse(key->data(), key->size());
  // Whatever was read, the file is kept only as render_kubeconfig's own text for it, which
  // parse_kubeconfig reads back to the same values.
  if (render_kubeconfig(c).view() != text) return std::nullopt;
  return c;
}

Result<Kubeconfig> parse_kubeconfig(std::string_view text, const std::string& source) {
  Kubeconfig c;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return fail(ErrorKind::usage, source + " is not a kubeconfig");
    auto current = text_field(root, "current-context", source);
    if (!current) return tl::unexpected(current.error());
    auto found = find_named(root["contexts"], *current);
    if (!found) {
      return fail(ErrorKind::usage, source + ": no context '" + printable(*current) + "'");
    }
    YAML::Node context = (*found)["context"];
    auto cluster = text_field(context, "cluster", source + ": context");
    if (!cluster) return tl::unexpected(cluster.error());
    auto user = text_field(context, "user", source + ": context");
    if (!user) return tl::unexpected(user.error());
    c.cluster = *cluster;
    c.user = *user;
    auto found_cluster = find_named(root["clusters"], c.cluster);
    auto found_user = find_named(root["users"], c.user);
    if (!found_cluster || !found_user) {
      return fail(ErrorKind::usage, source + ": the current context's cluster or user is missing");
    }
    YAML::Node cl = *found_cluster, us = *found_user;
    const std::string where = source + ": user " + printable(c.user);
    auto server = text_field(cl["cluster"], "server", source + ": cluster");
    auto ca = data_field(cl["cluster"], "certificate-authority-data", source + ": cluster");
    auto cert = data_field(us["user"], "client-certificate-data", where);
    auto key = data_field(us["user"], "client-key-data", where);
    for (const auto* r : {&server, &ca, &cert, &key}) {
      if (!*r) return tl::unexpected(r->error());
    }
    c.server = *server;
    c.ca_pem = *ca;
    c.cert_pem = *cert;
    c.key_pem = SecureString(*key);
    OPENSSL_cleanse(key->data(), key->size());
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::usage,
                source + " line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return c;
}

}  // namespace hwca::k8s
