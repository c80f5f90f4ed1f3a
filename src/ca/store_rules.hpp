// The rules every issuance database applies, whatever holds it (SQLite on one host,
// PostgreSQL for several instances): what a record, a token or a TPM registration must look
// like before it is written, the checks a claim of a bootstrap token makes, and the words of
// each refusal. The stores run the SQL; the decisions and the messages are here, once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ca/issuance_store.hpp"
#include "ca/node_registry.hpp"
#include "ca/tpm_registry.hpp"
#include "common/result.hpp"

namespace hwca::ca::rules {

// "'text'", unprintable bytes escaped (common/text.hpp printable).
std::string quoted(const std::string& text);

// A serial as stored: lower-case hex of whole octets (upper case accepted), or a usage error.
Result<std::string> serial_key(const std::string& serial);

// Empty, or lower-case hex digits only.
bool lower_hex(const std::string& s);
// 64 lower-case hex digits.
bool sha256_hex(const std::string& s);

// reserve_serials(): a CA, and each serial lower-case hex of whole octets.
Status check_reservation(const std::string& ca, const std::vector<std::string>& serials);

// Everything record() checks before writing: serials, CA, DER, revocation reason, lineage,
// attestation names, and no (CA, serial) twice in the batch (conflict).
Status check_batch(const std::vector<IssuedCert>& batch);

// The certificate's key digest as stored: the caller's, else from its DER (empty when the
// DER is no certificate, as tests record).
std::string spki_of(const IssuedCert& cert);

// usage unless 0-10 but 7.
Status check_reason(int reason);

// What revoke() and revoke_with_renewals() answer. `database` names the database in
// messages (a file path, or a PostgreSQL URL without its secrets).
tl::unexpected<Error> no_such_certificate(const std::string& ca, const std::string& serial,
                                          const std::string& database);
tl::unexpected<Error> already_revoked(const std::string& ca, const std::string& serial,
                                      int64_t revoked_at);
tl::unexpected<Error> lineage_already_revoked(const std::string& ca, const std::string& serial);
tl::unexpected<Error> serial_used(const std::string& ca, const std::string& serial);

// add_token(): the id, the node name, the addresses and the dates.
Status check_new_token(const BootstrapToken& token);
// claim_token(), in this order: check_secret (the stored hash against the secret: auth; a
// stored hash of the wrong size: io, the database is damaged), then, only for one who holds
// the token's text, check_claimable (its node, use, revocation and expiry: auth).
Status check_secret(const std::string& id, const std::vector<uint8_t>& stored_hash,
                    const Sha256& secret_sha256, const std::string& database);
Status check_claimable(const BootstrapToken& token, const std::string& node, int64_t now);
// revoke_token(): conflict if it was revoked or used already (0: not).
Status check_revocable(const std::string& id, int64_t used_at, int64_t revoked_at);
// An unknown id: not_found, or auth for a claim.
tl::unexpected<Error> unknown_token(const std::string& id, ErrorKind kind = ErrorKind::not_found);
tl::unexpected<Error> token_exists(const std::string& id);
tl::unexpected<Error> damaged(const std::string& database, const std::string& what);

// register_tpms(): each registration's fields, and no node or EK twice in the batch.
Status check_tpms(const std::vector<NodeTpm>& tpms);
// A registration refused because the node has a TPM (its EK's digest given), or the EK is
// another node's; `batch`: the message says that nothing was registered.
tl::unexpected<Error> node_has_tpm(const std::string& node, const std::string& ek_sha256,
                                   bool batch);
tl::unexpected<Error> ek_taken(const std::string& ek_sha256, const std::string& other_node,
                               bool batch);
tl::unexpected<Error> no_tpm(const std::string& node);
// add_ek_root(): the digest and the DER.
Status check_ek_root(const EkRoot& root);
tl::unexpected<Error> ek_root_exists(const EkRoot& root);
tl::unexpected<Error> no_ek_root(const std::string& sha256);

}  // namespace hwca::ca::rules
