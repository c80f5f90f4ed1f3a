// What hwca and hwca-node share around CLI11: one main() (run_program), help that shows the
// global options and the exit codes under every command, one value per occurrence of a
// repeatable option, and one way to parse and to report a command-line mistake.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace hwca::cli {

// Before any option or command is added: the help formatter, the version flag, one
// command required, global options accepted after the command too.
void prepare_app(CLI::App& app, const std::string& version_text);

// After every command is added: `footer` (the exit codes) under every command's help, and
// every repeatable option made to take one value an occurrence, so that in
// `--node cp-1 apiserver` the second word is the command's argument, not a second node.
void finish_app(CLI::App& app, const std::string& footer);

// Parse; help and version go to standard output (0), a command-line mistake is one line
// "<app>: <command path>: <what> (see <app> <command path> --help)" (2), an exception one
// line too (1). Otherwise the commands' `exit_code`, or 7 when standard output could not
// be written.
int run_app(CLI::App& app, int argc, char** argv, const int& exit_code);

// A program, as run_program shows it.
struct Program {
  std::string name;         // "hwca": the first word of its messages
  std::string description;  // the help's first lines
  std::string version;      // what --version prints
  std::string footer;       // the exit codes, under every command's help
};

// Both programs' main(): SIGPIPE ignored (a peer that drops its connection - a remote token,
// an EST server or client - gives an error, not a dead process); the app made and prepared
// (prepare_app); `add` adds the global options and the commands, whose callbacks set
// `exit_code`; then finish_app, run_app, and every token and TPM closed (tokens::shutdown_all)
// before the process exits. Gives main()'s exit code.
int run_program(const Program& program, int argc, char** argv,
                const std::function<void(CLI::App& app, int& exit_code)>& add);

}  // namespace hwca::cli
