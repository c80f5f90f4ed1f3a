// Who may ask for what over EST: the kubelet rules (docs/cli.md, "hwca serve").
//
//   - a node gets only CN=system:node:<its name>, O=system:nodes: exactly those two
//     attributes, once each, nothing else in the subject;
//   - kubelet-client and kubelet-credential: no SANs at all (no subjectAltName in the
//     request's extensions);
//   - kubelet-serving: at least one SAN; DNS names only the node's own name, IP addresses
//     only those the node registered (with its bootstrap token); no other SAN type;
//   - never a CA: a request asking for basicConstraints CA:TRUE is refused.
// The issuer then applies the profile of the same name, which rebuilds the certificate
// from checked values; this check is what ties the request to the authenticated node.
#pragma once

#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::est {

enum class NodeProfile { kubelet_client, kubelet_serving, kubelet_credential };

// "kubelet-client", "kubelet-serving", "kubelet-credential": the EST label and the issuer
// profile's name.
const char* profile_name(NodeProfile profile);
// The label of an EST path ("" means kubelet-client); not_found for any other label.
Result<NodeProfile> profile_for_label(const std::string& label);

// Why a request was refused, for metrics (hwca_est_rejected_total{reason="..."}).
enum class Refusal { subject, group, san, ca };
const char* refusal_name(Refusal why);

struct PolicyError {
  Refusal reason;
  std::string message;  // one line: what the request asked for and what the node may have
};

// `registered_addresses`: canonical IP text ("10.0.0.5", "fd00::5").
tl::expected<void, PolicyError> check_node_request(
    X509_REQ* req, const std::string& node, NodeProfile profile,
    const std::vector<std::string>& registered_addresses);

// The node a subject names: "worker-1" for CN=system:node:worker-1, O=system:nodes with
// nothing else; empty when the subject is not exactly a node's.
std::string node_of_subject(const X509_NAME* subject);

}  // namespace hwca::est
