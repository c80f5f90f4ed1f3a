// Keys in a token or TPM, as the commands reach them: generate one, say what was generated,
// show one's attributes (hwca key, hwca ca init --generate, hwca ca show, hwca serve).
#pragma once

#include <string>

#include "cli/context.hpp"
#include "common/result.hpp"
#include "tokens/keystore.hpp"

namespace hwca::cli {

// Generate a key in the token the URI names (hwca key generate, hwca ca init --generate).
Result<tokens::KeyInfo> generate_key(const Context& ctx, const std::string& uri,
                                     const std::string& type);

// "generated ec-p256 key 'L' (id ...) inside the token; it cannot be exported\n", or the
// TPM's version of it.
std::string generated_text(const tokens::KeyInfo& key);

// A key's attributes as its store reports them (hwca key show, hwca ca show).
Result<tokens::KeyAttributes> inspect_key(const Context& ctx, const std::string& uri);

}  // namespace hwca::cli
