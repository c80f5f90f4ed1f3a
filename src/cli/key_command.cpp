// hwca key generate | list | show
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "cli/token_keys.hpp"
#include "tokens/registry.hpp"

namespace hwca::cli {
namespace {

struct KeyArgs {
  std::string key;
  std::string type = "ec-p256";
  std::string token;
  OutputFormat output = OutputFormat::text;
};

int generate(const Context& ctx, const KeyArgs& args) {
  auto info = generate_key(ctx, args.key, args.type);
  if (!info) return report(info.error());
  print_output(args.output, key_json(*info),
               [&](std::ostream& out) { out << generated_text(*info) << info->uri << "\n"; });
  return 0;
}

int list(const Context& ctx, const KeyArgs& args) {
  auto store = tokens::open_store(args.token, ctx.open_options());
  if (!store) return report(store.error());
  auto* lister = tokens::ability<tokens::KeyLister>(*store);
  if (lister == nullptr) return report({ErrorKind::usage, "this store cannot list keys"});
  auto keys = lister->list_keys(args.token);
  if (!keys) return report(keys.error());
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& k : *keys) doc.push_back(key_json(k));
  print_output(args.output, doc, [&](std::ostream& out) {
    out << std::left << std::setw(20) << "LABEL" << std::setw(10) << "TYPE"
        << "URI\n";
    for (const auto& k : *keys) {
      out << std::left << std::setw(20) << k.label << std::setw(10) << k.type << k.uri << "\n";
    }
  });
  return 0;
}

int show(const Context& ctx, const KeyArgs& args) {
  auto a = inspect_key(ctx, args.key);
  if (!a) return report(a.error());
  if (args.output != OutputFormat::text) {
    print_output(args.output, key_json(*a), nullptr);
    return 0;
  }
  bool tpm = args.key.starts_with("tpm2:");
  std::cout << "uri:                " << a->key.uri << "\n"
            << (tpm ? "key:                " : "label:              ") << a->key.label << "\n"
            << (tpm ? "name:               " : "id:                 ") << a->key.id_hex << "\n"
            << "type:               " << a->key.type << " (" << a->bits << " bits)\n";
  // The TPM's attribute names are longer than a token's.
  size_t width = 20;
  for (const auto& flag : a->flags) width = std::max(width, flag.first.size() + 2);
  for (const auto& [name, value] : a->flags) {
    std::cout << std::left << std::setw(static_cast<int>(width)) << (name + ":")
              << (value ? "yes" : "no") << "\n";
  }
  std::cout << a->public_pem;
  return 0;
}

}  // namespace

void set_key_command(CLI::App& app, Context& ctx, int& exit_code) {
  static KeyArgs args;
  auto* key = app.add_subcommand("key", "make and inspect keys inside a token");
  key->require_subcommand(1);

  auto* gen = key->add_subcommand(
      "generate", "generate a key pair inside the token or TPM (never extractable)");
  gen->add_option("--key", args.key,
                  "URI of the new key: pkcs11:token=T;object=LABEL (id= optional, else random), "
                  "tpm2:file=PATH (a new key file) or tpm2:handle=0x81000010 (persistent)")
      ->required()
      ->type_name("URI");
  gen->add_option("--type", args.type, "ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096")
      ->type_name("TYPE");
  add_output_option(gen, args.output);
  gen->callback([&] { exit_code = generate(ctx, args); });

  auto* ls = key->add_subcommand("list", "list the private keys in a token");
  ls->add_option("--token", args.token, "URI of the token, e.g. pkcs11:token=ca")
      ->required()
      ->type_name("URI");
  add_output_option(ls, args.output);
  ls->callback([&] { exit_code = list(ctx, args); });

  auto* sh =
      key->add_subcommand("show", "show a key's type, size, protection attributes and public key");
  sh->add_option("--key", args.key, "URI of the key")->required()->type_name("URI");
  add_output_option(sh, args.output);
  sh->callback([&] { exit_code = show(ctx, args); });
}

}  // namespace hwca::cli
