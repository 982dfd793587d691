// Fingerprint: FNV-1a over the bytes of values added in a fixed order. Checkpoints store
// the fingerprint of the model they continue, so a restart with another model is refused.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace kollektiv::io {

class Fingerprint {
 public:
  template <class T>
  void add(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "add the fields of a struct one by one");
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    for (unsigned char b : bytes) mix(b);
  }
  void add(const std::string& text) {
    add(static_cast<std::uint64_t>(text.size()));
    for (unsigned char b : text) mix(b);
  }
  template <class T>
  void add(const std::vector<T>& values) {
    add(static_cast<std::uint64_t>(values.size()));
    for (const T& v : values) add(v);
  }
  std::uint64_t value() const { return hash_; }

 private:
  void mix(unsigned char b) { hash_ = (hash_ ^ b) * 0x100000001b3ull; }
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace kollektiv::io
