// A single-producer single-consumer ring of packet copies, from the reader
// thread to one worker when there are several workers. Fixed memory: nothing
// is allocated per packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>

#include "capture-agent/packet.h"

namespace gourmet::capture {

class PacketRing {
 public:
  explicit PacketRing(size_t capacity) : cap_(capacity), buf_(new uint8_t[capacity]) {}

  // Copies `p` in; waits while the ring is full (backpressure to the reader).
  void Push(const RawPacket& p) {
    const size_t need = Record(p.caplen);
    for (;;) {
      const size_t head = head_.load(std::memory_order_relaxed);
      const size_t tail = tail_.load(std::memory_order_acquire);
      size_t pos = head % cap_;
      size_t extra = 0;
      if (pos + need > cap_) extra = cap_ - pos;  // skip to the start
      if (head + extra + need - tail <= cap_) {
        if (extra) {
          Header wrap{0, kWrap, 0};
          if (cap_ - pos >= sizeof(Header)) std::memcpy(buf_.get() + pos, &wrap, sizeof(wrap));
          pos = 0;
        }
        Header h{p.ts_us, p.caplen, p.wirelen};
        std::memcpy(buf_.get() + pos, &h, sizeof(h));
        std::memcpy(buf_.get() + pos + sizeof(h), p.data, p.caplen);
        head_.store(head + extra + need, std::memory_order_release);
        return;
      }
      Wait();
    }
  }

  // The oldest packet, valid until Pop(); false when the ring is empty.
  bool Peek(RawPacket* out) {
    for (;;) {
      const size_t tail = tail_.load(std::memory_order_relaxed);
      if (tail == head_.load(std::memory_order_acquire)) return false;
      const size_t pos = tail % cap_;
      Header h;
      if (cap_ - pos < sizeof(Header)) {
        tail_.store(tail + (cap_ - pos), std::memory_order_release);
        continue;
      }
      std::memcpy(&h, buf_.get() + pos, sizeof(h));
      if (h.caplen == kWrap) {
        tail_.store(tail + (cap_ - pos), std::memory_order_release);
        continue;
      }
      out->ts_us = h.ts_us;
      out->caplen = h.caplen;
      out->wirelen = h.wirelen;
      out->data = buf_.get() + pos + sizeof(Header);
      current_ = Record(h.caplen);
      return true;
    }
  }

  void Pop() {
    tail_.store(tail_.load(std::memory_order_relaxed) + current_, std::memory_order_release);
  }

  void Close() { closed_.store(true, std::memory_order_release); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Backs off while waiting for the other side: spin a little, then sleep.
  static void Wait() { std::this_thread::sleep_for(std::chrono::microseconds(20)); }

 private:
  struct Header {
    int64_t ts_us;
    uint32_t caplen;
    uint32_t wirelen;
  };
  static constexpr uint32_t kWrap = ~uint32_t{0};
  static size_t Record(uint32_t caplen) { return (sizeof(Header) + caplen + 7) & ~size_t{7}; }

  const size_t cap_;
  std::unique_ptr<uint8_t[]> buf_;
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
  alignas(64) std::atomic<bool> closed_{false};
  size_t current_ = 0;
};

}  // namespace gourmet::capture
