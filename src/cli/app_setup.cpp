#include "cli/app_setup.hpp"

#include <csignal>
#include <cstdio>
#include <iostream>

#include "common/result.hpp"
#include "common/text.hpp"
#include "tokens/registry.hpp"

namespace hwca::cli {

namespace {

// Every command's help ends with the program's global options (they may follow the
// command, as `hwca sign ... --pin-source file:P`), then the footer.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_footer(const CLI::App* app) const override {
    std::string globals;
    if (app->get_parent() != nullptr) {
      const CLI::App* root = app;
      while (root->get_parent() != nullptr) root = root->get_parent();
      std::vector<const CLI::Option*> options;
      for (const CLI::Option* opt : root->get_options()) {
        if (opt != root->get_help_ptr() && opt != root->get_help_all_ptr() &&
            opt->get_name() != "--version") {
          options.push_back(opt);
        }
      }
      if (!options.empty()) {
        // make_group starts with a blank line; the options' section already ended with one.
        globals = make_group("Global options (before or after the command)", false, options);
        if (globals.starts_with("\n")) globals.erase(0, 1);
        globals += "\n";
      }
    }
    return globals + CLI::Formatter::make_footer(app);
  }
};

void finish_commands(CLI::App& app, const std::string& footer) {
  for (CLI::App* sub : app.get_subcommands({})) {
    sub->footer(footer);
    for (CLI::Option* opt : sub->get_options({})) {
      if (!opt->get_positional() && opt->get_items_expected_max() > 1) {
        opt->allow_extra_args(false);
      }
    }
    finish_commands(*sub, footer);
  }
}

// The first word the parser did not take, when it looks like an option: a typo in an
// option name must be reported as such, not as the required option it kept from being seen.
std::string unknown_option(const CLI::App& app) {
  for (const std::string& word : app.remaining(true)) {
    if (word.size() > 1 && word[0] == '-') return word;
  }
  return {};
}

int report_parse_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  CLI::App* deepest = &app;
  std::string path = app.get_name();
  for (;;) {
    auto chosen = deepest->get_subcommands();
    if (chosen.empty()) break;
    deepest = chosen.front();
    path += " " + deepest->get_name();
  }
  std::string what = e.what();
  const bool required = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr;
  if (required && what.find("subcommand") != std::string::npos) {
    // An unknown word where a command was required: name it and list the commands.
    std::string commands;
    for (const auto* sub : deepest->get_subcommands({})) {
      commands += (commands.empty() ? "" : ", ") + sub->get_name();
    }
    std::string unknown;
    for (int i = 1; i < argc; ++i) {
      std::string word = argv[i];
      if (word.empty() || word[0] == '-' || word == deepest->get_name()) continue;
      if (path.find(" " + word) == std::string::npos) {
        unknown = word;
        break;
      }
    }
    what = (unknown.empty() ? "a command is needed" : "unknown command '" + unknown + "'") +
           " (one of: " + commands + ")";
  } else if (required) {
    if (std::string word = unknown_option(app); !word.empty()) {
      what = "unknown option " + word.substr(0, word.find('='));
    }
  }
  const std::string where =
      path == app.get_name() ? "" : path.substr(app.get_name().size() + 1) + ": ";
  std::fprintf(stderr, "%s: %s%s (see %s --help)\n", app.get_name().c_str(), where.c_str(),
               printable(what).c_str(), path.c_str());
  return static_cast<int>(ErrorKind::usage);
}

}  // namespace

void prepare_app(CLI::App& app, const std::string& version_text) {
  app.formatter(std::make_shared<HelpFormatter>());
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command
  app.set_version_flag("--version", version_text);
}

void finish_app(CLI::App& app, const std::string& footer) {
  app.footer(footer);
  finish_commands(app, footer);
}

int run_app(CLI::App& app, int argc, char** argv, const int& exit_code) {
  const std::string name = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e, argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: unexpected failure: %s\n", name.c_str(), printable(e.what()).c_str());
    return static_cast<int>(ErrorKind::internal);
  }
  std::cout.flush();
  if (!std::cout) {
    std::fprintf(stderr, "%s: cannot write to standard output\n", name.c_str());
    return static_cast<int>(ErrorKind::io);
  }
  return exit_code;
}

int run_program(const Program& program, int argc, char** argv,
                const std::function<void(CLI::App& app, int& exit_code)>& add) {
  std::signal(SIGPIPE, SIG_IGN);
  int exit_code = 0;
  CLI::App app{program.description, program.name};
  prepare_app(app, program.version);
  add(app, exit_code);
  finish_app(app, program.footer);
  int rc = run_app(app, argc, argv, exit_code);
  tokens::shutdown_all();
  return rc;
}

}  // namespace hwca::cli
