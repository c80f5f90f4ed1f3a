#include "k8s/cluster.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "ca/home.hpp"
#include "ca/profile_yaml.hpp"
#include "ca/san.hpp"
#include "common/text.hpp"

namespace hwca::k8s {
namespace {

constexpr size_t kMaxNodeName = 253;

// A DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', each label starting and
// ending with an alphanumeric.
bool valid_node_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNodeName) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    if (end == start) return false;
    for (size_t i = start; i < end; ++i) {
      char c = name[i];
      bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && !(c == '-' && i != start && i + 1 != end)) return false;
    }
    start = end + 1;
  }
  return true;
}

Result<std::string> canonical_ip(const std::string& text) {
  auto san = ca::parse_san("IP:" + text, {});
  if (!san) return fail(ErrorKind::usage, "'" + printable(text) + "' is not an IP address");
  return san->value;
}

Result<std::string> scalar(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) return fail(ErrorKind::usage, where + " must be a string");
  return node.as<std::string>();
}

Result<std::vector<std::string>> strings(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence()) return fail(ErrorKind::usage, where + " must be a list");
  std::vector<std::string> out;
  for (const auto& item : node) {
    auto s = scalar(item, where);
    if (!s) return tl::unexpected(s.error());
    out.push_back(*s);
  }
  return out;
}

Result<int> parse_port(const std::string& port, const std::string& where) {
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
    return fail(ErrorKind::usage, where + ": port '" + printable(port) + "' is not 1-65535");
  }
  return static_cast<int>(p);
}

Status parse_endpoint(const std::string& text, const std::string& where, Cluster& c) {
  std::string host = text, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return fail(ErrorKind::usage, where + ": no ']' after [");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail(ErrorKind::usage, where + ": ':' expected after ]");
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  } else if (text.find(':') != std::string::npos) {
    return fail(ErrorKind::usage, where + ": write an IPv6 endpoint as [address]:port");
  }
  bool is_ip = ca::parse_san("IP:" + host, {}).has_value();
  if (!is_ip && !ca::parse_san("DNS:" + host, {})) {
    return fail(ErrorKind::usage,
                where + ": '" + printable(host) + "' is neither a host name nor an IP");
  }
  c.endpoint_host = is_ip ? *canonical_ip(host) : host;
  if (!port.empty()) {
    auto p = parse_port(port, where);
    if (!p) return tl::unexpected(p.error());
    c.endpoint_port = *p;
  }
  return {};
}

Status parse_cas(const YAML::Node& node, const std::string& where, Cluster& c) {
  if (!node.IsMap()) return fail(ErrorKind::usage, where + " must be a mapping");
  if (auto ok = ca::unique_keys(node, where); !ok) return ok;
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    auto v = scalar(item.second, where + "." + key);
    if (!v) return tl::unexpected(v.error());
    if (!ca::valid_ca_name(*v)) {
      return fail(ErrorKind::usage,
                  where + "." + key + ": '" + printable(*v) + "' is not a CA name");
    }
    if (key == "kubernetes") {
      c.kubernetes_ca = *v;
    } else if (key == "etcd") {
      c.etcd_ca = *v;
    } else if (key == "frontProxy") {
      c.front_proxy_ca = *v;
    } else {
      return fail(ErrorKind::usage, where + ": unknown CA role '" + printable(key) +
                                        "' (kubernetes, etcd, frontProxy)");
    }
  }
  if (c.kubernetes_ca.empty() || c.etcd_ca.empty() || c.front_proxy_ca.empty()) {
    return fail(ErrorKind::usage, where + " needs kubernetes, etcd and frontProxy");
  }
  return {};
}

Result<Node> parse_node(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return fail(ErrorKind::usage, where + " must be a mapping");
  if (auto ok = ca::unique_keys(node, where); !ok) return tl::unexpected(ok.error());
  Node n;
  bool has_role = false;
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    std::string at = where + "." + key;
    if (key == "name") {
      auto v = scalar(item.second, at);
      if (!v) return tl::unexpected(v.error());
      if (!valid_node_name(*v)) {
        return fail(ErrorKind::usage, at + ": '" + printable(*v) +
                                          "' is not a node name (lower-case letters, digits, "
                                          "'-' and '.')");
      }
      n.name = *v;
    } else if (key == "role") {
      auto v = scalar(item.second, at);
      if (!v) return tl::unexpected(v.error());
      if (*v != "control-plane" && *v != "worker") {
        return fail(ErrorKind::usage,
                    at + " is control-plane or worker, not '" + printable(*v) + "'");
      }
      n.role = *v == "control-plane" ? Role::control_plane : Role::worker;
      has_role = true;
    } else if (key == "addresses") {
      auto list = strings(item.second, at);
      if (!list) return tl::unexpected(list.error());
      for (const auto& a : *list) {
        auto ip = canonical_ip(a);
        if (!ip) return wrap(ip.error(), at);
        n.addresses.push_back(*ip);
      }
    } else {
      return fail(ErrorKind::usage, where + ": unknown field '" + printable(key) + "'");
    }
  }
  if (n.name.empty() || !has_role) return fail(ErrorKind::usage, where + " needs name and role");
  if (n.role == Role::control_plane && n.addresses.empty()) {
    return fail(ErrorKind::usage, where +
                                      ": a control-plane node needs an address (its "
                                      "advertise address)");
  }
  return n;
}

Status parse_field(const std::string& key, const YAML::Node& value, const std::string& source,
                   Cluster& c, bool& saw_version, bool& saw_kind) {
  std::string at = source + ": " + key;
  if (key == "apiVersion" || key == "kind") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    const char* want = key == "apiVersion" ? "hwca/v1" : "Cluster";
    if (*v != want) return fail(ErrorKind::usage, at + " must be " + want);
    (key == "apiVersion" ? saw_version : saw_kind) = true;
  } else if (key == "name") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    if (!valid_node_name(*v)) return fail(ErrorKind::usage, at + ": not a valid cluster name");
    c.name = *v;
  } else if (key == "controlPlaneEndpoint") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    return parse_endpoint(*v, at, c);
  } else if (key == "bindPort") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    auto p = parse_port(*v, at);
    if (!p) return tl::unexpected(p.error());
    c.bind_port = *p;
  } else if (key == "serviceSubnet") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    if (auto ip = first_service_ip(*v); !ip) return wrap(ip.error(), at);
    c.service_subnet = *v;
  } else if (key == "dnsDomain") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    if (!ca::parse_san("DNS:" + *v, {})) return fail(ErrorKind::usage, at + ": not a DNS domain");
    c.dns_domain = *v;
  } else if (key == "certSANs") {
    auto list = strings(value, at);
    if (!list) return tl::unexpected(list.error());
    for (const auto& s : *list) {
      auto ip = ca::parse_san("IP:" + s, {});
      auto dns = ip ? ip : ca::parse_san("DNS:" + s, {});
      if (!dns)
        return fail(ErrorKind::usage,
                    at + ": '" + printable(s) + "' is neither a DNS name nor an IP");
      c.cert_sans.push_back(dns->text());
    }
  } else if (key == "cas") {
    return parse_cas(value, at, c);
  } else if (key == "leafKeyType") {
    auto v = scalar(value, at);
    if (!v) return tl::unexpected(v.error());
    auto t = tokens::parse_key_type(*v);
    if (!t) return wrap(t.error(), at);
    c.leaf_key_type = *t;
  } else if (key == "nodes") {
    if (!value.IsSequence()) return fail(ErrorKind::usage, at + " must be a list");
    for (size_t i = 0; i < value.size(); ++i) {
      auto n = parse_node(value[i], at + "[" + std::to_string(i) + "]");
      if (!n) return tl::unexpected(n.error());
      c.nodes.push_back(std::move(*n));
    }
  } else {
    return fail(ErrorKind::usage, source + ": unknown field '" + printable(key) + "'");
  }
  return {};
}

}  // namespace

Result<std::string> first_service_ip(const std::string& cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) {
    return fail(ErrorKind::usage, "'" + printable(cidr) + "' is not a subnet (address/prefix)");
  }
  std::string addr = cidr.substr(0, slash);
  bool v4 = addr.find(':') == std::string::npos;
  unsigned char buf[16] = {0};
  char* end = nullptr;
  long prefix = std::strtol(cidr.c_str() + slash + 1, &end, 10);
  int bits = v4 ? 32 : 128;
  if (inet_pton(v4 ? AF_INET : AF_INET6, addr.c_str(), buf) != 1 || *end != '\0' ||
      end == cidr.c_str() + slash + 1 || prefix < 0 || prefix > bits) {
    return fail(ErrorKind::usage, "'" + printable(cidr) + "' is not a subnet (address/prefix)");
  }
  if (prefix > bits - 3) {
    return fail(ErrorKind::usage, "service subnet '" + printable(cidr) +
                                      "' is too small: it needs at least 8 addresses (a /" +
                                      std::to_string(bits - 3) + " or shorter prefix)");
  }
  size_t len = v4 ? 4 : 16;
  for (size_t i = 0; i < len; ++i) {  // clear the host bits, then add 1
    int keep = static_cast<int>(prefix) - static_cast<int>(i) * 8;
    unsigned mask = keep >= 8 ? 0xffu : keep <= 0 ? 0u : (0xffu << (8 - keep)) & 0xffu;
    buf[i] = static_cast<unsigned char>(buf[i] & mask);
  }
  buf[len - 1] = static_cast<unsigned char>(buf[len - 1] | 1u);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(v4 ? AF_INET : AF_INET6, buf, text, sizeof text);
  return std::string(text);
}

std::string server_url(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Cluster> parse_cluster(const std::string& text, const std::string& source) {
  Cluster c;
  bool saw_version = false, saw_kind = false, saw_endpoint = false;
  if (auto ok = ca::check_yaml_text(text, source); !ok) return tl::unexpected(ok.error());
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return fail(ErrorKind::usage, source + " must be a mapping");
    if (auto ok = ca::unique_keys(root, source); !ok) return tl::unexpected(ok.error());
    for (const auto& item : root) {
      std::string key = item.first.as<std::string>();
      saw_endpoint = saw_endpoint || key == "controlPlaneEndpoint";
      if (auto ok = parse_field(key, item.second, source, c, saw_version, saw_kind); !ok) {
        return tl::unexpected(ok.error());
      }
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::usage,
                source + " line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!saw_version || !saw_kind) {
    return fail(ErrorKind::usage, source + " needs apiVersion: hwca/v1 and kind: Cluster");
  }
  if (!saw_endpoint) return fail(ErrorKind::usage, source + " needs controlPlaneEndpoint");
  if (c.kubernetes_ca.empty()) return fail(ErrorKind::usage, source + " needs cas");
  std::set<std::string> names;
  bool control_plane = false;
  for (const auto& n : c.nodes) {
    if (!names.insert(n.name).second) {
      return fail(ErrorKind::usage, source + ": node '" + n.name + "' is listed twice");
    }
    control_plane = control_plane || n.role == Role::control_plane;
  }
  if (!control_plane)
    return fail(ErrorKind::usage, source + " needs at least one control-plane node");
  return c;
}

}  // namespace hwca::k8s
