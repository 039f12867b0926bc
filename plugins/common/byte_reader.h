// Bounds-checked big-endian reader over a byte span, shared by the binary
// protocol parsers (dns, tls, ssh). Every read checks the remaining length
// and reports failure instead of reading past the end; nothing throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gourmet::plugins {

class ByteReader {
 public:
  ByteReader() = default;
  ByteReader(const uint8_t* data, size_t len) : data_(data), len_(len) {}
  explicit ByteReader(std::string_view s)
      : data_(reinterpret_cast<const uint8_t*>(s.data())), len_(s.size()) {}

  size_t pos() const { return pos_; }
  size_t size() const { return len_; }
  size_t remaining() const { return len_ - pos_; }
  bool empty() const { return pos_ >= len_; }
  const uint8_t* data() const { return data_; }
  const uint8_t* cursor() const { return data_ + pos_; }

  bool U8(uint8_t* v) {
    if (remaining() < 1) return false;
    *v = data_[pos_++];
    return true;
  }
  bool U16(uint16_t* v) {
    if (remaining() < 2) return false;
    *v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool U24(uint32_t* v) {
    if (remaining() < 3) return false;
    *v = uint32_t{data_[pos_]} << 16 | uint32_t{data_[pos_ + 1]} << 8 | data_[pos_ + 2];
    pos_ += 3;
    return true;
  }
  bool U32(uint32_t* v) {
    if (remaining() < 4) return false;
    *v = uint32_t{data_[pos_]} << 24 | uint32_t{data_[pos_ + 1]} << 16 |
         uint32_t{data_[pos_ + 2]} << 8 | data_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  // A sub-reader over the next n bytes; fails (consuming nothing) if short.
  bool Sub(size_t n, ByteReader* out) {
    if (remaining() < n) return false;
    *out = ByteReader(data_ + pos_, n);
    pos_ += n;
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }
  bool Skip(size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  // Length-prefixed vectors (TLS style): 1- or 2-byte length, then the bytes.
  bool Vec8(ByteReader* out) {
    uint8_t n;
    return U8(&n) && Sub(n, out);
  }
  bool Vec16(ByteReader* out) {
    uint16_t n;
    return U16(&n) && Sub(n, out);
  }
  bool Vec24(ByteReader* out) {
    uint32_t n;
    return U24(&n) && Sub(n, out);
  }
  bool Seek(size_t pos) {
    if (pos > len_) return false;
    pos_ = pos;
    return true;
  }

 private:
  const uint8_t* data_ = nullptr;
  size_t len_ = 0;
  size_t pos_ = 0;
};

}  // namespace gourmet::plugins
