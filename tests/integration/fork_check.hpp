// The check of a token used across fork(): the parent signs (its session pool warm, logged
// in), forks, the child signs with the same Signer and verifies the signature with the
// public key, and the parent signs again once the child has ended.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "support/signer_probe.hpp"
#include "tokens/keystore.hpp"

namespace hwca::test {

inline bool signature_verifies(tokens::Signer& signer, const std::vector<uint8_t>& sig) {
  std::vector<uint8_t> hash(32, 0x5a);  // sign_once's digest
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(signer.public_key(), nullptr));
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), hash.data(), hash.size()) == 1;
  ERR_clear_error();
  return ok;
}

// How the child ended, by its exit status.
enum ChildStatus : int {
  kChildSigned = 0,
  kChildSignFailed = 10,
  kChildBadSignature = 11,
  kChildCheckFailed = 12,  // `child_check` said no
};

// Sign in the parent, fork, sign in the child, sign in the parent again. `child_check`,
// run in the child after its signature, returns "" or what is wrong (written to stderr).
inline void expect_signs_across_fork(tokens::Signer& signer,
                                     const std::function<std::string()>& child_check = {}) {
  auto before = sign_once(signer);
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_TRUE(signature_verifies(signer, *before));

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << "fork failed";
  if (pid == 0) {
    // The child: no gtest assertion here (it would report in the wrong process), and
    // _exit, so that no destructor of the parent's objects runs.
    int status = kChildSigned;
    auto sig = sign_once(signer);
    if (!sig) {
      std::fprintf(stderr, "child: signing failed: %s\n", sig.error().message.c_str());
      status = kChildSignFailed;
    } else if (!signature_verifies(signer, *sig)) {
      std::fprintf(stderr, "child: the signature does not verify\n");
      status = kChildBadSignature;
    } else if (child_check) {
      if (std::string why = child_check(); !why.empty()) {
        std::fprintf(stderr, "child: %s\n", why.c_str());
        status = kChildCheckFailed;
      }
    }
    std::fflush(stderr);
    ::_exit(status);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died (status " << status << ")";
  EXPECT_EQ(WEXITSTATUS(status), kChildSigned)
      << "the child failed (10: no signature, 11: a bad one, 12: its check; its stderr says "
         "why)";

  auto after = sign_once(signer);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_TRUE(signature_verifies(signer, *after));
}

}  // namespace hwca::test
