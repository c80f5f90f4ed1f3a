// `hwca k8s check-expiration`: what certificates a written tree holds and when they end.
#pragma once

#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::k8s {

struct ExpiryRow {
  std::string node;  // empty when DIR is one node's own tree
  std::string name;  // "apiserver", "admin.conf", ...; for a CA "ca", "etcd-ca", ...
  std::string path;  // relative to the output folder
  bool is_ca = false;
  std::string ca;  // the CA role that signs it ("ca", "etcd-ca", "front-proxy-ca")
  // The CA's key (pki/ca.key, ...) is not in the tree, as hwca never writes it: kubeadm
  // calls such a certificate externally managed.
  bool externally_managed = true;
  std::string subject;
  std::time_t not_after = 0;
  std::string error;  // set when the file cannot be read; the rest is then empty
};

// Every known certificate file under DIR/<node>/ (`nodes`: only those; empty: all), node
// by node in name order, CAs first; or, when DIR is one node's own tree (a node's
// /etc/kubernetes: DIR/pki/ca.crt, DIR/kubelet.conf, ...), that tree's, with an empty node
// name (`nodes` must then be empty). A missing file is left out; an unreadable one is a row
// with its error. Finding no certificate at all is an error (not_found).
Result<std::vector<ExpiryRow>> scan_expiration(const std::string& dir,
                                               const std::set<std::string>& nodes);

// "364d", "9y", "5h", "expired" (kubeadm's residual-time style).
std::string residual_text(std::time_t not_after, std::time_t now);

}  // namespace hwca::k8s
