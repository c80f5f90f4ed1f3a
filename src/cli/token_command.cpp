// hwca token list
#include <iostream>

#include "cli/context.hpp"
#include "tokens/registry.hpp"

namespace hwca::cli {
namespace {

int list_tokens(const Context& ctx) {
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

}  // namespace

void set_token_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* token = app.add_subcommand("token", "inspect the tokens a PKCS#11 module offers");
  token->require_subcommand(1);
  auto* list = token->add_subcommand("list", "list initialised tokens with their URIs and flags");
  list->callback([&] { exit_code = list_tokens(ctx); });
}

}  // namespace hwca::cli
