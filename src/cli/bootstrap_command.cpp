// hwca bootstrap create | list | revoke: the single-use tokens that pay for a node's first
// certificate over EST (src/ca/node_registry.hpp, src/ca/bootstrap_token.hpp).
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ca/audit_trail.hpp"
#include "ca/bootstrap_token.hpp"
#include "ca/san.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "cli/table.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

constexpr int64_t kMaxTtl = int64_t{365} * 86400;

struct CreateArgs {
  std::string node, ttl = "24h";
  std::vector<std::string> ips;
  OutputFormat output = OutputFormat::text;
};

struct ListArgs {
  OutputFormat output = OutputFormat::text;
};

struct RevokeArgs {
  std::string id;
  OutputFormat output = OutputFormat::text;
};

// "30m", "24h", "7d" in seconds: more than nothing, at most 365 days.
Result<int64_t> parse_ttl(const std::string& text) {
  const std::string hint = "a duration such as 30m, 24h or 7d (at most 365d)";
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits > 0 && digits == text.size()) {
    return fail(ErrorKind::usage, "--ttl '" + text + "' has no unit: write " + text + "m, " + text +
                                      "h or " + text + "d");
  }
  const std::string unit = text.substr(digits);
  const int64_t scale = unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (digits == 0 || digits > 7 || scale == 0) {
    return fail(ErrorKind::usage, "--ttl takes " + hint + ", not '" + printable(text) + "'");
  }
  const int64_t seconds = std::stoll(text.substr(0, digits)) * scale;
  if (seconds == 0) return fail(ErrorKind::usage, "--ttl must be longer than nothing: " + hint);
  if (seconds > kMaxTtl) {
    return fail(ErrorKind::usage,
                "--ttl '" + text + "' is longer than 365d, the longest a bootstrap token lives");
  }
  return seconds;
}

std::string state_of(const ca::BootstrapToken& t, int64_t now) {
  if (t.revoked_at != 0) return "revoked";
  if (t.used_at != 0) return "used";
  return now >= t.expires_at ? "expired" : "valid";
}

// A token as the documents describe it (never its secret).
nlohmann::json token_json(const ca::BootstrapToken& t, int64_t now) {
  auto time_or_null = [](int64_t at) {
    return at != 0 ? nlohmann::json(rfc3339_text(at)) : nlohmann::json(nullptr);
  };
  return {{"id", t.id},
          {"node", t.node},
          {"addresses", t.addresses},
          {"createdAt", rfc3339_text(t.created_at)},
          {"expiresAt", rfc3339_text(t.expires_at)},
          {"createdBy", t.created_by},
          {"usedAt", time_or_null(t.used_at)},
          {"revokedAt", time_or_null(t.revoked_at)},
          {"state", state_of(t, now)}};
}

// The token's text is wiped however create() ends.
struct WipeToken {
  ca::TokenText& token;
  ~WipeToken() { OPENSSL_cleanse(token.text.data(), token.text.size()); }
};

int create(const Context& ctx, const CreateArgs& args) {
  if (!ca::valid_node_name(args.node)) {
    return report(Error{ErrorKind::usage,
                        "--node '" + printable(args.node) +
                            "' is not a Kubernetes node name: lower-case letters, digits, '-' "
                            "and '.', labels of 1-63 starting and ending with a letter or digit, "
                            "at most 253 in all (RFC 1123)"});
  }
  auto ttl = parse_ttl(args.ttl);
  if (!ttl) return report(ttl.error());
  auto addresses = ca::canonical_ips(args.ips);
  if (!addresses) return report(addresses.error());
  auto session = open_with_store(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  ca::Database& store = session->store();

  const auto now = static_cast<int64_t>(std::time(nullptr));
  ca::BootstrapToken token;
  token.node = args.node;
  token.addresses = *addresses;
  token.created_at = now;
  token.expires_at = now + *ttl;
  token.created_by = cli_requester();
  // A new id that is already taken (one chance in two billion per token kept) is drawn again.
  Result<ca::TokenText> made = fail(ErrorKind::internal, "no bootstrap token was made");
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (made) OPENSSL_cleanse(made->text.data(), made->text.size());
    made = ca::make_bootstrap_token();
    if (!made) return report(made.error());
    token.id = made->id;
    auto added = store.add_token(token, ca::bootstrap_token_hash(made->text));
    if (added) break;
    if (added.error().kind != ErrorKind::conflict || attempt == 2) {
      OPENSSL_cleanse(made->text.data(), made->text.size());
      return report(added.error());
    }
  }
  WipeToken wipe{*made};

  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  nlohmann::json data = {{"id", token.id},
                         {"node", token.node},
                         {"addresses", token.addresses},
                         {"expires_at", token.expires_at},
                         {"requester", token.created_by}};
  if (auto ok = audit.append("bootstrap.created", data); !ok) {
    // Not handed out: revoke it, so that the database holds no valid token nobody audited.
    auto revoked = store.revoke_token(token.id, now);
    return report(Error{ok.error().kind,
                        "bootstrap token '" + token.id + "' was not handed out: the audit log " +
                            "did not record it (" + ok.error().message + ")" +
                            (revoked ? "; it was revoked"
                                     : "; revoke it: 'hwca bootstrap revoke " + token.id + "'")});
  }
  // The secret goes out past any buffer: alone, or spliced into the document (its characters,
  // a-z, 0-9 and '.', need no escaping in JSON or YAML).
  std::string before, after = "\n";
  if (args.output != OutputFormat::text) {
    const std::string doc = args.output == OutputFormat::json ? token_json(token, now).dump(2)
                                                              : to_yaml(token_json(token, now));
    if (args.output == OutputFormat::json) {  // "{\n  ..." -> "{\n  "token": "...",\n  ..."
      before = "{\n  \"token\": \"";
      after = "\",\n" + doc.substr(2) + "\n";
    } else {
      before = "token: \"";
      after = "\"\n" + doc;
    }
  }
  auto written = write_stdout(before);
  if (written) written = write_stdout(std::string_view(made->text.data(), made->text.size()));
  if (written) written = write_stdout(after);
  if (!written) {
    // Not (wholly) handed out: revoke it, the safe side, and say so in the audit log.
    bool revoked = static_cast<bool>(store.revoke_token(token.id, now));
    if (revoked) {
      (void)audit.append("bootstrap.revoked", {{"id", token.id},
                                               {"node", token.node},
                                               {"reason", "not handed out"},
                                               {"requester", token.created_by}});
    }
    return report(Error{written.error().kind,
                        written.error().message + "; bootstrap token '" + token.id + "' " +
                            (revoked ? "was revoked: make another"
                                     : "could not be revoked: revoke it ('hwca bootstrap revoke " +
                                           token.id + "') and make another")});
  }
  std::cerr << "bootstrap token '" << token.id << "' for node '" << token.node << "'"
            << (token.addresses.empty() ? "" : " (" + join(token.addresses, ", ") + ")")
            << " is valid until " << utc_text(token.expires_at)
            << ", for one use; it is shown only this once\n";
  return 0;
}

int list(const Context& ctx, const ListArgs& args) {
  auto session = open_with_store(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  ca::Database& store = session->store();
  auto tokens = store.tokens();
  if (!tokens) return report(tokens.error());
  const auto now = static_cast<int64_t>(std::time(nullptr));
  if (args.output != OutputFormat::text) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *tokens) out.push_back(token_json(t, now));
    print_output(args.output, out, nullptr);
    return 0;
  }
  std::vector<Row> rows;
  for (const auto& t : *tokens) {
    rows.push_back({t.id, printable(t.node),
                    t.addresses.empty() ? "-" : printable(join(t.addresses, ",")),
                    utc_text(t.created_at), utc_text(t.expires_at), state_of(t, now)});
  }
  print_table(std::cout, {"ID", "NODE", "ADDRESSES", "CREATED", "EXPIRES", "STATE"}, rows);
  return 0;
}

int revoke(const Context& ctx, const RevokeArgs& args) {
  // Never repeated in a message: it may be a token's secret typed by mistake.
  if (args.id.find('.') != std::string::npos) {
    return report(Error{ErrorKind::usage,
                        "give the bootstrap token's id (the 6 characters before the '.'), not "
                        "the whole token: the token is a secret"});
  }
  bool well_formed = args.id.size() == ca::kTokenIdLength;
  for (char c : args.id)
    well_formed = well_formed && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  if (!well_formed) {
    return report(Error{ErrorKind::usage,
                        "a bootstrap token id is 6 characters of a-z and 0-9 (see 'hwca "
                        "bootstrap list')"});
  }
  auto session = open_with_store(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  ca::Database& store = session->store();
  auto tokens = store.tokens();
  if (!tokens) return report(tokens.error());
  auto it = std::find_if(tokens->begin(), tokens->end(),
                         [&](const ca::BootstrapToken& t) { return t.id == args.id; });
  if (it == tokens->end()) {
    return report(Error{ErrorKind::not_found,
                        "unknown bootstrap token '" + args.id + "' (see 'hwca bootstrap list')"});
  }
  const auto now = static_cast<int64_t>(std::time(nullptr));
  if (auto ok = store.revoke_token(args.id, now); !ok) return report(ok.error());
  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  nlohmann::json data = {{"id", args.id}, {"node", it->node}, {"requester", cli_requester()}};
  if (auto ok = audit.append("bootstrap.revoked", data); !ok) {
    // The revocation stands: it is the safe side.
    return report(Error{ok.error().kind, "bootstrap token '" + args.id +
                                             "' is revoked in the issuance database, but the "
                                             "audit log did not record it: " +
                                             ok.error().message});
  }
  ca::BootstrapToken revoked = *it;
  revoked.revoked_at = now;
  print_output(args.output, token_json(revoked, now), [&](std::ostream& out) {
    out << "revoked bootstrap token '" << args.id << "' for node '" << printable(it->node) << "'\n";
  });
  return 0;
}

}  // namespace

void set_bootstrap_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* bootstrap = app.add_subcommand(
      "bootstrap",
      "bootstrap tokens: single-use, expiring secrets with which a node enrolls over EST for "
      "its first certificate; the database keeps only their SHA-256");
  bootstrap->require_subcommand(1);

  static CreateArgs create_args;
  auto* create_cmd = bootstrap->add_subcommand(
      "create",
      "make a token for one node and print it, alone, on standard output (it is shown only "
      "once); stored as its SHA-256 and audited without it");
  create_cmd
      ->add_option("--node", create_args.node,
                   "the node it is for: its Kubernetes node name (RFC 1123 subdomain), which "
                   "the node gives as its user name when it enrolls")
      ->required()
      ->type_name("NAME");
  create_cmd
      ->add_option("--ttl", create_args.ttl,
                   "how long it may be used: 30m, 24h, 7d (default 24h, at most 365d)")
      ->type_name("DURATION");
  create_cmd
      ->add_option("--ip", create_args.ips,
                   "an IPv4 or IPv6 address the node may name in its serving certificates "
                   "(repeatable)")
      ->type_name("ADDRESS");
  add_output_option(create_cmd, create_args.output);
  create_cmd->callback([&] { exit_code = create(ctx, create_args); });

  static ListArgs list_args;
  auto* list_cmd = bootstrap->add_subcommand(
      "list",
      "list the tokens: id, node, addresses, created, expires and state (valid, used, revoked, "
      "expired); never their secrets, which are not kept");
  add_output_option(list_cmd, list_args.output);
  add_json_alias(list_cmd, list_args.output);
  list_cmd->callback([&] { exit_code = list(ctx, list_args); });

  static RevokeArgs revoke_args;
  auto* revoke_cmd = bootstrap->add_subcommand(
      "revoke", "revoke an unused token, so that it can never be used; audited");
  revoke_cmd
      ->add_option("id", revoke_args.id,
                   "the token's id: its 6 characters before the '.' (see 'hwca bootstrap list')")
      ->required()
      ->type_name("ID");
  add_output_option(revoke_cmd, revoke_args.output);
  revoke_cmd->callback([&] { exit_code = revoke(ctx, revoke_args); });
}

}  // namespace hwca::cli
