// A string for secrets (PINs, auth values): wiped when destroyed, never copied implicitly.
#pragma once

#include <openssl/crypto.h>

#include <string>
#include <string_view>

namespace hwca {

class SecureString {
 public:
  SecureString() = default;
  explicit SecureString(std::string_view s) : value_(s) {}
  SecureString(const SecureString&) = delete;
  SecureString& operator=(const SecureString&) = delete;
  SecureString(SecureString&& other) noexcept { swap(other); }
  SecureString& operator=(SecureString&& other) noexcept {
    if (this != &other) {
      clear();
      swap(other);
    }
    return *this;
  }
  ~SecureString() { clear(); }

  SecureString clone() const { return SecureString(value_); }
  const char* c_str() const { return value_.c_str(); }
  std::string_view view() const { return value_; }
  size_t size() const { return value_.size(); }
  bool empty() const { return value_.empty(); }
  void push_back(char c) { value_.push_back(c); }
  void pop_back() { value_.pop_back(); }
  void clear() {
    if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
    value_.clear();
  }

 private:
  void swap(SecureString& other) noexcept { value_.swap(other.value_); }
  std::string value_;
};

}  // namespace hwca
