// Unit tests for check_pin_flags (tokens/pkcs11/token.hpp): the token flags checked before
// any login attempt (PKCS#11 v2.40 CK_TOKEN_INFO flags, from p11-kit's pkcs11.h).
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <string>

#include "tokens/pkcs11/token.hpp"

namespace {

using hwca::ErrorKind;
using hwca::tokens::pkcs11::check_pin_flags;

const std::string kDevice = "token 'unit-ca' (serial 0xC0FFEE)";
constexpr CK_FLAGS kUsable = CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED;

void expect_refused(CK_FLAGS flags, const char* what) {
  auto ok = check_pin_flags(flags, kDevice);
  ASSERT_FALSE(ok.has_value()) << what;
  EXPECT_EQ(ok.error().kind, ErrorKind::auth) << what;
  EXPECT_NE(ok.error().message.find(kDevice), std::string::npos)
      << what << ": " << ok.error().message;
}

TEST(CheckPinFlags, UsableTokenPasses) {
  EXPECT_TRUE(check_pin_flags(CKF_USER_PIN_INITIALIZED, kDevice).has_value());
  EXPECT_TRUE(check_pin_flags(kUsable, kDevice).has_value());
  // A low count alone is only a warning sign: the login may still be tried.
  EXPECT_TRUE(check_pin_flags(
                  CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_COUNT_LOW, kDevice)
                  .has_value());
}

TEST(CheckPinFlags, LockedPinIsRefused) {
  expect_refused(kUsable | CKF_USER_PIN_LOCKED, "locked");
  expect_refused(kUsable | CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW, "locked+low");
}

TEST(CheckPinFlags, FinalTryIsRefused) {
  expect_refused(kUsable | CKF_USER_PIN_FINAL_TRY, "final try");
  expect_refused(kUsable | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW, "final try+low");
}

TEST(CheckPinFlags, PinToBeChangedIsRefused) {
  expect_refused(kUsable | CKF_USER_PIN_TO_BE_CHANGED, "to be changed");
}

TEST(CheckPinFlags, UninitialisedPinIsRefused) {
  expect_refused(0, "no flags");
  expect_refused(CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED, "pin not initialised");
  expect_refused(CKF_LOGIN_REQUIRED | CKF_USER_PIN_COUNT_LOW, "pin not initialised, low");
}

TEST(CheckPinFlags, DeviceStringIsUsedVerbatim) {
  const std::string other = "token 'other' (serial 42)";
  auto ok = check_pin_flags(kUsable | CKF_USER_PIN_LOCKED, other);
  ASSERT_FALSE(ok.has_value());
  EXPECT_NE(ok.error().message.find(other), std::string::npos) << ok.error().message;
  EXPECT_EQ(ok.error().message.find("unit-ca"), std::string::npos) << ok.error().message;
}

TEST(CheckPinFlags, EachRefusalSaysSomethingDifferent) {
  auto locked = check_pin_flags(kUsable | CKF_USER_PIN_LOCKED, kDevice);
  auto final_try = check_pin_flags(kUsable | CKF_USER_PIN_FINAL_TRY, kDevice);
  auto change = check_pin_flags(kUsable | CKF_USER_PIN_TO_BE_CHANGED, kDevice);
  auto unset = check_pin_flags(CKF_LOGIN_REQUIRED, kDevice);
  ASSERT_FALSE(locked.has_value());
  ASSERT_FALSE(final_try.has_value());
  ASSERT_FALSE(change.has_value());
  ASSERT_FALSE(unset.has_value());
  EXPECT_NE(locked.error().message, final_try.error().message);
  EXPECT_NE(locked.error().message, change.error().message);
  EXPECT_NE(locked.error().message, unset.error().message);
  EXPECT_NE(final_try.error().message, change.error().message);
  EXPECT_NE(final_try.error().message, unset.error().message);
  EXPECT_NE(change.error().message, unset.error().message);
}

}  // namespace
