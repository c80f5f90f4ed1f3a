// A bare PKCS#11 client: dlopen + C_GetFunctionList and nothing of hwca's token layer.
// Tests use it to check what hwca did from the outside; the benchmark uses it as the
// raw C_Sign baseline. Failures throw std::runtime_error naming the call and CK_RV.
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

namespace hwca::test {

class RawPkcs11 {
 public:
  explicit RawPkcs11(const std::string& module);
  ~RawPkcs11();
  RawPkcs11(const RawPkcs11&) = delete;
  RawPkcs11& operator=(const RawPkcs11&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  CK_SLOT_ID slot_by_label(const std::string& label);
  CK_SESSION_HANDLE open_session(CK_SLOT_ID slot, bool rw = false);
  void login(CK_SESSION_HANDLE s, const std::string& pin);  // CKR_USER_ALREADY_LOGGED_IN ok
  void close_session(CK_SESSION_HANDLE s);
  // The one object of this class and label.
  CK_OBJECT_HANDLE find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const std::string& label);
  // The raw CK_RV of reading one attribute's value into `out`.
  CK_RV get_attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                      std::vector<unsigned char>* out);
  bool get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);
  std::vector<unsigned char> sign(CK_SESSION_HANDLE s, CK_MECHANISM* mech, CK_OBJECT_HANDLE key,
                                  const unsigned char* data, size_t len, size_t max_sig);

 private:
  void* dl_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
};

std::string ck_rv_text(CK_RV rv);

}  // namespace hwca::test
