#include "est/node_policy.hpp"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <optional>

#include "ca/san.hpp"
#include "common/text.hpp"

namespace hwca::est {
namespace {

constexpr const char* kNodePrefix = "system:node:";
constexpr const char* kNodesGroup = "system:nodes";

tl::unexpected<PolicyError> refuse(Refusal why, std::string message) {
  return tl::unexpected<PolicyError>(PolicyError{why, std::move(message)});
}

// A subject taken apart: the CN and O values, and the first thing in it that a node's
// subject may not hold (another attribute, a multi-valued RDN, a value that is not text).
struct SubjectParts {
  std::vector<std::string> common_names;
  std::vector<std::string> organizations;
  std::string problem;  // empty: only single-valued CN and O RDNs
};

SubjectParts parts_of(const X509_NAME* subject) {
  SubjectParts out;
  int last_set = -1;
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (X509_NAME_ENTRY_set(e) == last_set) {
      out.problem = "a multi-valued RDN";
      return out;
    }
    last_set = X509_NAME_ENTRY_set(e);
    if (nid != NID_commonName && nid != NID_organizationName) {
      out.problem = nid == NID_undef ? std::string("an unknown attribute") : OBJ_nid2sn(nid);
      return out;
    }
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) {
      ERR_clear_error();
      out.problem = std::string(OBJ_nid2sn(nid)) + " that is not valid text";
      return out;
    }
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    (nid == NID_commonName ? out.common_names : out.organizations).push_back(std::move(value));
  }
  return out;
}

// The request's values, each cut to a short bound, and at most a few of them.
std::string quoted_list(const std::vector<std::string>& values) {
  constexpr size_t kShown = 4;
  std::string out;
  for (size_t i = 0; i < values.size() && i < kShown; ++i) {
    out += (out.empty() ? "'" : ", '") + bounded(values[i], 64) + "'";
  }
  if (values.size() > kShown) out += " and " + std::to_string(values.size() - kShown) + " more";
  return out.empty() ? "none" : out;
}

// DNS names compare without regard to ASCII case (RFC 4343).
bool same_dns(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

// Two addresses match only in the same family with the same bytes (compared in canonical
// form): an IPv4-mapped IPv6 address (::ffff:10.0.0.5) is not the IPv4 address 10.0.0.5;
// the node registers it as such if it is to be named that way.
bool registered(const std::string& ip, const std::vector<std::string>& addresses) {
  auto wanted = ca::canonical_ip(ip);
  if (!wanted) return false;
  return std::any_of(addresses.begin(), addresses.end(),
                     [&](const std::string& a) { return ca::canonical_ip(a) == wanted; });
}

struct ExtensionsFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};

tl::expected<void, PolicyError> check_subject(X509_REQ* req, const std::string& node) {
  const std::string cn = kNodePrefix + node;
  const std::string want = "CN=" + printable(cn) + ", O=" + kNodesGroup;
  SubjectParts parts = parts_of(X509_REQ_get_subject_name(req));
  if (!parts.problem.empty()) {
    return refuse(Refusal::subject, "the request's subject holds " + bounded(parts.problem) +
                                        "; node '" + printable(node) + "' may have only " + want);
  }
  if (parts.organizations.size() != 1 || parts.organizations[0] != kNodesGroup) {
    return refuse(Refusal::group, "the request asks for the groups (O) " +
                                      quoted_list(parts.organizations) + "; node '" +
                                      printable(node) + "' may have only O=" + kNodesGroup);
  }
  if (parts.common_names.size() != 1 || parts.common_names[0] != cn) {
    return refuse(Refusal::subject, "the request asks for the CN " +
                                        quoted_list(parts.common_names) + "; node '" +
                                        printable(node) + "' may have only CN=" + printable(cn));
  }
  return {};
}

tl::expected<void, PolicyError> check_sans(const X509_EXTENSION* ext, const std::string& node,
                                           NodeProfile profile,
                                           const std::vector<std::string>& addresses,
                                           size_t& count) {
  const std::string who =
      std::string(profile_name(profile)) + " certificate of node '" + printable(node) + "'";
  if (profile != NodeProfile::kubelet_serving) {
    return refuse(Refusal::san,
                  "the request has a subjectAltName extension; a " + who + " has no SANs");
  }
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(const_cast<X509_EXTENSION*>(ext)));
  if (names == nullptr) {
    ERR_clear_error();
    return refuse(Refusal::san, "the request's subjectAltName does not decode");
  }
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> hold(names, GENERAL_NAMES_free);
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    auto san = ca::san_from_general_name(sk_GENERAL_NAME_value(names, i), ca::SanRules{});
    if (!san) return refuse(Refusal::san, "the request's SAN: " + san.error().message);
    switch (san->type) {
      case ca::SanType::dns:
        if (!same_dns(san->value, node)) {
          return refuse(Refusal::san, "the request names " + bounded(san->text()) + "; a " + who +
                                          " may name only DNS:" + printable(node));
        }
        break;
      case ca::SanType::ip:
        if (!registered(san->value, addresses)) {
          std::string have;
          for (const auto& a : addresses) have += (have.empty() ? "" : ", ") + printable(a);
          return refuse(
              Refusal::san,
              "the request names " + bounded(san->text()) + ", which node '" + printable(node) +
                  "' did not register (registered: " + (have.empty() ? "none" : have) + ")");
        }
        break;
      case ca::SanType::email:
      case ca::SanType::uri:
        return refuse(Refusal::san, "the request names " + bounded(san->text()) + "; a " + who +
                                        " may name only its DNS name and IP addresses");
    }
    ++count;
  }
  return {};
}

}  // namespace

const char* profile_name(NodeProfile profile) {
  switch (profile) {
    case NodeProfile::kubelet_client:
      return "kubelet-client";
    case NodeProfile::kubelet_serving:
      return "kubelet-serving";
    case NodeProfile::kubelet_credential:
      return "kubelet-credential";
  }
  return "?";
}

Result<NodeProfile> profile_for_label(const std::string& label) {
  if (label.empty() || label == profile_name(NodeProfile::kubelet_client)) {
    return NodeProfile::kubelet_client;
  }
  if (label == profile_name(NodeProfile::kubelet_serving)) return NodeProfile::kubelet_serving;
  if (label == profile_name(NodeProfile::kubelet_credential)) {
    return NodeProfile::kubelet_credential;
  }
  return fail(ErrorKind::not_found, "no EST label '" + printable(label) +
                                        "' (labels: kubelet-client, the default, "
                                        "kubelet-serving and kubelet-credential)");
}

const char* refusal_name(Refusal why) {
  switch (why) {
    case Refusal::subject:
      return "subject";
    case Refusal::group:
      return "group";
    case Refusal::san:
      return "san";
    case Refusal::ca:
      return "ca";
  }
  return "?";
}

tl::expected<void, PolicyError> check_node_request(
    X509_REQ* req, const std::string& node, NodeProfile profile,
    const std::vector<std::string>& registered_addresses) {
  if (node.empty()) return refuse(Refusal::subject, "no node name to check the request against");
  if (req == nullptr) return refuse(Refusal::subject, "no request");
  if (auto ok = check_subject(req, node); !ok) return ok;

  // The extensions are read as the issuer reads them (X509_REQ_get_extensions: the first
  // extensionRequest attribute); a second one, or one that does not decode, is refused
  // here rather than left for the issuer to ignore.
  int first = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1);
  int ms_first = X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1);
  if ((first >= 0 && X509_REQ_get_attr_by_NID(req, NID_ext_req, first) >= 0) ||
      (ms_first >= 0 && X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, ms_first) >= 0) ||
      (first >= 0 && ms_first >= 0)) {
    return refuse(Refusal::san, "the request has more than one extension request");
  }
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsFree> exts(X509_REQ_get_extensions(req));
  if (!exts && (first >= 0 || ms_first >= 0)) {
    ERR_clear_error();
    return refuse(Refusal::san, "the request's extension request does not decode");
  }

  // Never a CA, whatever else the request holds.
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_basic_constraints) continue;
    auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext));
    if (bc == nullptr) {
      ERR_clear_error();
      return refuse(Refusal::ca, "the request's basicConstraints does not decode");
    }
    bool wants_ca = bc->ca != 0;
    BASIC_CONSTRAINTS_free(bc);
    if (wants_ca) {
      return refuse(Refusal::ca, "the request asks for CA:TRUE; node '" + printable(node) +
                                     "' may have only a " + profile_name(profile) + " certificate");
    }
  }

  bool seen_san = false;
  size_t sans = 0;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    if (seen_san) return refuse(Refusal::san, "the request has two subjectAltName extensions");
    seen_san = true;
    if (auto ok = check_sans(ext, node, profile, registered_addresses, sans); !ok) return ok;
  }
  if (profile == NodeProfile::kubelet_serving && sans == 0) {
    return refuse(Refusal::san,
                  "the request names no SAN; a kubelet-serving certificate of node '" +
                      printable(node) +
                      "' needs its DNS name or an IP address it "
                      "registered");
  }
  return {};
}

std::string node_of_subject(const X509_NAME* subject) {
  if (subject == nullptr) return {};
  SubjectParts parts = parts_of(subject);
  if (!parts.problem.empty() || parts.common_names.size() != 1 || parts.organizations.size() != 1 ||
      parts.organizations[0] != kNodesGroup) {
    return {};
  }
  const std::string& cn = parts.common_names[0];
  const size_t prefix = std::strlen(kNodePrefix);
  if (cn.size() <= prefix || cn.compare(0, prefix, kNodePrefix) != 0) return {};
  return cn.substr(prefix);
}

}  // namespace hwca::est
