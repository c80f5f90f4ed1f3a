// hwca db migrate --to URL: move the home's records from its SQLite file and audit log to an
// empty PostgreSQL database that several instances then share (src/ca/db_migrate.hpp).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ca/db_migrate.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"

namespace hwca::cli {
namespace {

struct MigrateArgs {
  std::string to;
  OutputFormat output = OutputFormat::text;
};

int migrate(const Context& ctx, const MigrateArgs& args) {
  auto session = Session::open(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  auto done = ca::migrate_to_postgresql(session->home(), args.to, cli_requester());
  if (!done) return report(done.error());
  nlohmann::json rows = nlohmann::json::object();
  for (const auto& [table, n] : done->rows) rows[table] = n;
  nlohmann::json doc = {
      {"from", done->from}, {"auditLog", done->audit_from},    {"to", done->to},
      {"rows", rows},       {"auditLines", done->audit_lines}, {"auditHead", done->audit_head}};
  print_output(args.output, doc, [&](std::ostream& out) {
    out << "migrated " << done->from << " and " << done->audit_from << " to " << done->to
        << ", read back and checked:\n";
    for (const auto& [table, n] : done->rows) {
      out << "  " << std::left << std::setw(20) << table << " " << n << " rows\n";
    }
    out << "  " << std::left << std::setw(20) << "audit chain"
        << " " << done->audit_lines << " lines, the same head " << done->audit_head << "\n"
        << "config.yaml now names the database; the SQLite file and the audit log are kept as "
           "they were, unused (a backup)\n";
  });
  return 0;
}

}  // namespace

void set_db_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* db = app.add_subcommand("db", "the home's issuance database");
  db->require_subcommand(1);
  static MigrateArgs args;
  auto* migrate_cmd = db->add_subcommand(
      "migrate",
      "move the home's records from its SQLite file and audit log to an empty PostgreSQL "
      "database, in one transaction, read them back and check them (rows of every table, "
      "the audit chain's length and head), then point config.yaml at the database. Stop "
      "every 'hwca serve' using the home first");
  migrate_cmd
      ->add_option("--to", args.to,
                   "the PostgreSQL database: postgresql://[user@]host[:port]/dbname[?...], "
                   "no password (libpq's password file)")
      ->required()
      ->type_name("URL");
  add_output_option(migrate_cmd, args.output);
  migrate_cmd->callback([&] { exit_code = migrate(ctx, args); });
}

}  // namespace hwca::cli
