#include "support/raw_pkcs11.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace hwca::test {
namespace {

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) throw std::runtime_error(std::string(what) + " failed: " + ck_rv_text(rv));
}

}  // namespace

std::string ck_rv_text(CK_RV rv) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "CK_RV 0x%lx", static_cast<unsigned long>(rv));
  return buf;
}

RawPkcs11::RawPkcs11(const std::string& module) {
  dl_ = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (dl_ == nullptr) throw std::runtime_error("dlopen " + module + ": " + ::dlerror());
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(dl_, "C_GetFunctionList"));
  if (get == nullptr) throw std::runtime_error(module + " has no C_GetFunctionList");
  check(get(&fn_), "C_GetFunctionList");
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn_->C_Initialize(&args);
  if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) check(rv, "C_Initialize");
}

// Never C_Finalize: the module's state is shared with hwca's token layer in the same process.
RawPkcs11::~RawPkcs11() {
  if (dl_ != nullptr) ::dlclose(dl_);
}

CK_SLOT_ID RawPkcs11::slot_by_label(const std::string& label) {
  CK_ULONG n = 0;
  check(fn_->C_GetSlotList(CK_TRUE, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  check(fn_->C_GetSlotList(CK_TRUE, slots.data(), &n), "C_GetSlotList");
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    std::string l(reinterpret_cast<char*>(info.label), sizeof info.label);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    if (l == label) return slot;
  }
  throw std::runtime_error("no token labelled " + label);
}

CK_SESSION_HANDLE RawPkcs11::open_session(CK_SLOT_ID slot, bool rw) {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
  check(fn_->C_OpenSession(slot, flags, nullptr, nullptr, &s), "C_OpenSession");
  return s;
}

void RawPkcs11::login(CK_SESSION_HANDLE s, const std::string& pin) {
  CK_RV rv = fn_->C_Login(
      s, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())), pin.size());
  if (rv != CKR_USER_ALREADY_LOGGED_IN) check(rv, "C_Login");
}

void RawPkcs11::close_session(CK_SESSION_HANDLE s) { fn_->C_CloseSession(s); }

CK_OBJECT_HANDLE RawPkcs11::find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                                 const std::string& label) {
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
  check(fn_->C_FindObjectsInit(s, tmpl, 2), "C_FindObjectsInit");
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  CK_RV rv = fn_->C_FindObjects(s, found, 2, &n);
  fn_->C_FindObjectsFinal(s);
  check(rv, "C_FindObjects");
  if (n != 1) throw std::runtime_error("expected one object labelled " + label);
  return found[0];
}

CK_RV RawPkcs11::get_attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                               std::vector<unsigned char>* out) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = fn_->C_GetAttributeValue(s, obj, &a, 1);
  if (rv != CKR_OK) return rv;
  out->resize(a.ulValueLen);
  a.pValue = out->data();
  return fn_->C_GetAttributeValue(s, obj, &a, 1);
}

bool RawPkcs11::get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  std::vector<unsigned char> v;
  check(get_attribute(s, obj, type, &v), "C_GetAttributeValue");
  if (v.size() != 1) throw std::runtime_error("attribute is not a CK_BBOOL");
  return v[0] == CK_TRUE;
}

std::vector<unsigned char> RawPkcs11::sign(CK_SESSION_HANDLE s, CK_MECHANISM* mech,
                                           CK_OBJECT_HANDLE key, const unsigned char* data,
                                           size_t len, size_t max_sig) {
  check(fn_->C_SignInit(s, mech, key), "C_SignInit");
  std::vector<unsigned char> sig(max_sig);
  CK_ULONG sig_len = sig.size();
  check(fn_->C_Sign(s, const_cast<unsigned char*>(data), len, sig.data(), &sig_len), "C_Sign");
  sig.resize(sig_len);
  return sig;
}

}  // namespace hwca::test
