// hwca audit verify
#include <iostream>

#include "ca/audit_log.hpp"
#include "ca/home.hpp"
#include "cli/context.hpp"

namespace hwca::cli {
namespace {

int verify(const Context& ctx) {
  auto home = ca::Home::open(ca::resolve_home(ctx.home), /*create=*/false);
  if (!home) return report(home.error());
  std::string path = home->path(home->config().audit_log);
  auto summary = ca::AuditLog::verify(path);
  if (!summary) return report(summary.error());
  std::cout << "audit log " << path << ": " << summary->lines
            << " events, the hash chain is intact\nhead: " << summary->head << "\n";
  return 0;
}

}  // namespace

void set_audit_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* audit = app.add_subcommand("audit", "check the CA home's audit log");
  audit->require_subcommand(1);
  auto* verify_cmd = audit->add_subcommand(
      "verify", "check the audit log's hash chain; exit 6 naming the first line that breaks it");
  verify_cmd->callback([&] { exit_code = verify(ctx); });
}

}  // namespace hwca::cli
