// hwca token list
#include <iostream>

#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "tokens/registry.hpp"

namespace hwca::cli {
namespace {

int list_tokens(const Context& ctx, OutputFormat output) {
  auto store = tokens::open_store("pkcs11:", ctx.open_options());
  if (!store) return report(store.error());
  auto* lister = tokens::ability<tokens::TokenLister>(*store);
  if (lister == nullptr) return report({ErrorKind::usage, "this store cannot list tokens"});
  auto list = lister->list_tokens();
  if (!list) return report(list.error());
  if (list->empty()) {
    std::cerr << "hwca: no initialised token found (is the right module chosen? see --module)\n";
    return static_cast<int>(ErrorKind::not_found);
  }
  if (output != OutputFormat::text) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& t : *list) doc.push_back(token_json(t));
    print_output(output, doc, nullptr);
    return 0;
  }
  for (const auto& t : *list) {
    std::cout << "token '" << t.label << "'\n"
              << "  uri:          " << t.uri << "\n"
              << "  manufacturer: " << t.manufacturer << "\n"
              << "  model:        " << t.model << "\n"
              << "  serial:       " << t.serial << "\n"
              << "  slot:         " << t.slot_id << "\n"
              << "  flags:       ";
    for (const auto& f : t.flags) std::cout << " " << f;
    std::cout << "\n";
  }
  return 0;
}

struct InitArgs {
  std::string label;
  std::string so_pin_source;
  OutputFormat output = OutputFormat::text;
};

int init_token(const Context& ctx, const InitArgs& args) {
  // The new user PIN: --pin-source, else $HWCA_PIN_SOURCE (never a prompt: it would have
  // to be typed twice to be safe, and scripts are what initialise tokens).
  const tokens::OpenOptions options = ctx.open_options();
  const std::string& pin_source =
      !options.pin_source.empty() ? options.pin_source : options.default_pin_source;
  if (pin_source.empty()) {
    return report(
        {ErrorKind::usage,
         "give the new user PIN with --pin-source env:NAME|file:PATH or $HWCA_PIN_SOURCE"});
  }
  auto store = tokens::open_store("pkcs11:", options);
  if (!store) return report(store.error());
  auto* init = tokens::ability<tokens::TokenInitializer>(*store);
  if (init == nullptr) return report({ErrorKind::usage, "this store cannot initialise tokens"});
  auto token = init->init_token({args.label, args.so_pin_source, pin_source});
  if (!token) return report(token.error());
  print_output(args.output, token_json(*token), [&](std::ostream& out) {
    out << "initialised token '" << token->label << "' (serial " << token->serial
        << ") and set its user PIN\n"
        << token->uri << "\n";
  });
  return 0;
}

}  // namespace

void set_token_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* token = app.add_subcommand("token", "inspect the tokens a PKCS#11 module offers");
  token->require_subcommand(1);
  auto* list = token->add_subcommand("list", "list initialised tokens with their URIs and flags");
  static OutputFormat list_output = OutputFormat::text;
  add_output_option(list, list_output);
  list->callback([&] { exit_code = list_tokens(ctx, list_output); });

  static InitArgs init_args;
  auto* init = token->add_subcommand(
      "init",
      "initialise a fresh token (e.g. SoftHSM2's free slot) and set its user PIN, "
      "read from --pin-source or $HWCA_PIN_SOURCE");
  init->add_option("--label", init_args.label, "label of the new token (1-32 characters)")
      ->required()
      ->type_name("LABEL");
  init->add_option("--so-pin-source", init_args.so_pin_source,
                   "where the security officer PIN is read from: env:NAME or file:PATH")
      ->required()
      ->type_name("SOURCE");
  add_output_option(init, init_args.output);
  init->callback([&] { exit_code = init_token(ctx, init_args); });
}

}  // namespace hwca::cli
