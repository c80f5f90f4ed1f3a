// hwca-node's subcommands: enroll, renew, kubelet-credential, serving, ek show.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace hwca::node {

struct Options {
  std::string server;      // https://host:port
  std::string ca_cert;     // PEM: the CA the server's certificate (and ours) chain to
  std::string key;         // the node key's URI (tpm2:file=..., tpm2:handle=...)
  std::string tcti;        // the TPM; empty: $HWCA_TCTI, else device:/dev/tpmrm0
  std::string pin_source;  // the key's password, if it has one
  int timeout = 30;        // seconds for each network step
};

void add_commands(CLI::App& app, Options& options, int& exit_code);

}  // namespace hwca::node
