// What hwca-node's two HTTPS clients (EST, and the attestation rounds on the same listener)
// share: cpp-httplib's client set up with hwca's TLS settings, and the mapping of transport
// failures and refusals to one-line errors of the right kind.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "node/est_client.hpp"

namespace hwca::node {

// One configured client: the server verified against options.ca_file and its name, TLS 1.2
// or 1.3, the client certificate and key (mutual TLS) if given, the timeouts. A client that
// cannot be set up is a usage error.
Result<std::unique_ptr<httplib::SSLClient>> make_client(const EstEndpoint& e,
                                                        const ClientOptions& o);

// A request that got no reply: io (device when the TLS handshake failed because the client
// key's device did: a TPM gone), naming the server.
Error transport_error(const EstEndpoint& e, httplib::Error err, const httplib::SSLClient& cli);

// A reply other than 200: `what` refused (STATUS): the server's one-line reason; 401 auth,
// 404 not_found, 5xx device, other statuses usage.
Error refusal(const std::string& what, const httplib::Response& res);

// The first certificate of a certs-only PKCS#7 body (base64), as simpleenroll answers.
Result<ossl::Ptr<X509>> issued_certificate(const std::string& body, const std::string& what);

}  // namespace hwca::node
