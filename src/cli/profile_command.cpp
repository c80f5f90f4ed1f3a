// hwca profile publish FILE: the profiles every home on a shared PostgreSQL database takes in
// besides its own (ca_catalog.hpp), replaced whole, checked as config.yaml's are, audited.
#include <yaml-cpp/yaml.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ca/audit_trail.hpp"
#include "ca/database.hpp"
#include "ca/profile_yaml.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

struct PublishArgs {
  std::string file;
  OutputFormat output = OutputFormat::text;
};

// The file's `profiles:` mapping as the text the database keeps, and its names.
Result<std::pair<std::string, std::vector<std::string>>> read_profiles(const std::string& file) {
  auto text = read_file(file);
  if (!text) return tl::unexpected(text.error());
  if (auto ok = ca::check_yaml_text(*text, file); !ok) return tl::unexpected(ok.error());
  try {
    YAML::Node doc = YAML::Load(*text);
    if (!doc.IsMap() || doc.size() != 1 || !doc["profiles"]) {
      return fail(ErrorKind::usage, file +
                                        ": expected one key, 'profiles:', with the profiles "
                                        "as in config.yaml (docs/cli.md, Profiles)");
    }
    YAML::Node profiles = doc["profiles"];
    auto parsed = ca::parse_profiles(profiles, file);
    if (!parsed) return tl::unexpected(parsed.error());
    std::vector<std::string> names;
    for (const auto& [name, profile] : *parsed) names.push_back(name);
    return std::make_pair(parsed->empty() ? std::string() : YAML::Dump(profiles) + "\n", names);
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::usage, file + ": " + e.msg);
  }
}

int publish(const Context& ctx, const PublishArgs& args) {
  auto session = open_with_store(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  ca::Home& home = session->home();
  ca::CaCatalog* catalog = session->store().catalog();
  if (catalog == nullptr) {
    return report(Error{ErrorKind::usage, "the home's database (" + home.config().database +
                                              ") is not shared: its profiles are those of " +
                                              home.path("config.yaml") + " ('profiles:')"});
  }
  auto profiles = read_profiles(args.file);
  if (!profiles) return report(profiles.error());
  const auto& [yaml, names] = *profiles;
  // Checked against the home's own profiles before anything is published.
  if (auto ok = home.adopt_shared_profiles(yaml, args.file); !ok) return report(ok.error());
  if (auto ok = catalog->publish_profiles(yaml, std::time(nullptr), cli_requester()); !ok) {
    return report(ok.error());
  }
  nlohmann::json data = {
      {"profiles", names}, {"sha256", ca::sha256_hex(yaml)}, {"by", cli_requester()}};
  if (auto ok = ca::open_audit(home)->append("profiles.published", data); !ok) {
    return report(Error{ok.error().kind,
                        "the profiles are published, but the audit log did not "
                        "record it: " +
                            ok.error().message});
  }
  print_output(args.output, data, [&](std::ostream& out) {
    out << "published " << names.size() << " profile" << (names.size() == 1 ? "" : "s")
        << (names.empty() ? "" : ": " + join(names, ", ")) << "; every home on "
        << session->store().describe() << " takes them in\n";
  });
  return 0;
}

}  // namespace

void set_profile_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* profile = app.add_subcommand("profile", "certificate profiles shared by the instances");
  profile->require_subcommand(1);
  static PublishArgs args;
  auto* publish_cmd = profile->add_subcommand(
      "publish",
      "replace the profiles a shared PostgreSQL database keeps for every home on it (besides "
      "each home's own in config.yaml) with those of FILE; checked as config.yaml's are, "
      "audited. A file with 'profiles: {}' removes them");
  publish_cmd
      ->add_option("file", args.file,
                   "YAML file with one key, 'profiles:', written as in config.yaml")
      ->required()
      ->type_name("FILE");
  add_output_option(publish_cmd, args.output);
  publish_cmd->callback([&] { exit_code = publish(ctx, args); });
}

}  // namespace hwca::cli
