// Process-wide allocator tuning for services that buffer payload.
#pragma once

#include <malloc.h>

namespace gourmet {

// Payload buffers grow and die by the thousand; glibc would serve the large
// ones with mmap and return them to the kernel on free, paying a page fault
// per page each time. Keep them in the heap instead.
inline void TuneAllocatorForPayload() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace gourmet
