// A cache of large CPU blocks in front of libtorch's CPU allocator. glibc serves allocations
// above 32 MiB (its largest mmap threshold) with a fresh mmap each time and unmaps them on free,
// so every such tensor (a (8, 256, 8192) float32 logits tensor is 64 MiB) costs a page fault and
// a page clearing per 4 KiB, every step: about 5% of a decoder's training step measured here.
// Blocks of at least kMin bytes are kept when freed (up to 4 GiB in all, or an eighth of the
// machine's memory; the oldest go first to make room) and handed out again for requests of up
// to their size and no less than 4/5 of it; a request that finds none returns the cached blocks
// smaller than itself to the system. Smaller requests are plain c10::alloc_cpu blocks, as
// libtorch's own allocator makes them. emptyCpuCache() returns the cached blocks to the system;
// FULLTUNE_CPU_CACHE=0 leaves libtorch's allocator alone.
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core.h"

namespace {

class CachingCPUAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kMin = size_t{16} << 20;
  static constexpr size_t kRound = size_t{1} << 20;

  explicit CachingCPUAllocator(size_t maxCached) : cap_(maxCached), maxCached_(maxCached) {}

  c10::DataPtr allocate(size_t n) override {
    // every block carries the same deleter (raw_deleter's contract: kernels free their scratch
    // space with it); small ones are plain c10::alloc_cpu blocks, as libtorch's allocator makes
    if (n < kMin) {
      void* q = c10::alloc_cpu(n);
      return {q, q, &release, c10::Device(c10::DeviceType::CPU)};
    }
    const size_t want = (n + kRound - 1) / kRound * kRound;
    void* p = nullptr;
    size_t size = want;
    std::vector<void*> smaller;
    {
      std::lock_guard<std::mutex> lock(m_);
      auto it = free_.lower_bound(want);
      if (it != free_.end() && it->first <= want / 4 * 5) {
        p = it->second.p;
        size = it->first;
        cached_ -= size;
        free_.erase(it);
      } else {
        // A miss: the blocks smaller than this request go back to the system. A workload whose
        // sizes repeat (a training step) stops missing after its first step; one whose sizes
        // grow (generation without a key-value cache) would otherwise pile up blocks it never
        // asks for again.
        for (auto s = free_.begin(); s != free_.end() && s->first < want; s = free_.erase(s)) {
          cached_ -= s->first;
          smaller.push_back(s->second.p);
        }
      }
    }
    for (void* q : smaller) c10::free_cpu(q);
    if (!p) p = c10::alloc_cpu(size);
    {
      std::lock_guard<std::mutex> lock(m_);
      live_[p] = size;
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  size_t cachedBytes() {
    std::lock_guard<std::mutex> lock(m_);
    return cached_;
  }

  // A new bound on the cached bytes (0: none kept); the oldest go back to the system to meet it.
  void setLimit(size_t limit) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(m_);
      maxCached_ = std::min(limit, cap_);
      evictTo(maxCached_, evicted);
    }
    for (void* q : evicted) c10::free_cpu(q);
  }
  size_t cap() const { return cap_; }

  void empty() {
    std::multimap<size_t, Cached> drop;
    {
      std::lock_guard<std::mutex> lock(m_);
      drop.swap(free_);
      cached_ = 0;
    }
    for (const auto& [size, c] : drop) c10::free_cpu(c.p);
  }

  static CachingCPUAllocator* instance;

 private:
  static void release(void* p) { instance->put(p); }

  void put(void* p) {
    if (!p) return;
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(m_);
      auto it = live_.find(p);
      if (it != live_.end()) {  // a large block: kept, making room by evicting the oldest kept
        const size_t size = it->second;
        live_.erase(it);
        if (size <= maxCached_) {
          evictTo(maxCached_ - size, evicted);
          free_.emplace(size, Cached{p, seq_++});
          cached_ += size;
          p = nullptr;
        }
      }
    }
    for (void* q : evicted) c10::free_cpu(q);
    if (p) c10::free_cpu(p);
  }

  // with m_ held: the oldest cached blocks out until at most `bytes` stay cached
  void evictTo(size_t bytes, std::vector<void*>& evicted) {
    while (cached_ > bytes) {
      auto oldest = free_.begin();
      for (auto c = free_.begin(); c != free_.end(); ++c)
        if (c->second.seq < oldest->second.seq) oldest = c;
      cached_ -= oldest->first;
      evicted.push_back(oldest->second.p);
      free_.erase(oldest);
    }
  }

  struct Cached {
    void* p;
    uint64_t seq;  // order of caching: the oldest goes first when the cache is full
  };
  const size_t cap_;
  size_t maxCached_;
  std::mutex m_;
  std::multimap<size_t, Cached> free_;      // cached blocks by size (at most maxCached_ / kMin)
  std::unordered_map<void*, size_t> live_;  // blocks handed out, by address
  size_t cached_ = 0;
  uint64_t seq_ = 0;
};

CachingCPUAllocator* CachingCPUAllocator::instance = nullptr;

}  // namespace

namespace ft {

// Installed once per process, before the first tensor; never freed (libtorch keeps the pointer,
// and blocks may return to it until the process ends).
void installCpuCache() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("FULLTUNE_CPU_CACHE");
    if (env && std::strcmp(env, "0") == 0) return;
    // at most 4 GiB, and at most an eighth of the machine's memory
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    size_t cap = size_t{4} << 30;
    if (pages > 0 && pageSize > 0) cap = std::min(cap, static_cast<size_t>(pages) * static_cast<size_t>(pageSize) / 8);
    CachingCPUAllocator::instance = new CachingCPUAllocator(cap);
    c10::SetCPUAllocator(CachingCPUAllocator::instance, /*priority=*/1);
  });
}

}  // namespace ft

// cpuCacheBytes(): bytes of large CPU blocks held for reuse (0 when the cache is off).
FT_FN(cpuCacheBytes) {
  auto* c = CachingCPUAllocator::instance;
  return Napi::Number::New(a.env(), c ? static_cast<double>(c->cachedBytes()) : 0.0);
}

// setCpuCacheLimit(bytes | null) -> the limit now: at most `bytes` cached (0: freed blocks go
// back to the system at once, for runs that trade speed for memory); null: the default cap.
FT_FN(setCpuCacheLimit) {
  auto* c = CachingCPUAllocator::instance;
  if (!c) return Napi::Number::New(a.env(), 0.0);
  if (!a.missing(0) && a.f64(0) < 0) throw ft::ArgError("bytes: expected a number >= 0 or null");
  c->setLimit(a.missing(0) ? c->cap() : static_cast<size_t>(a.f64(0)));
  return Napi::Number::New(a.env(), static_cast<double>(a.missing(0) ? c->cap() : std::min(static_cast<size_t>(a.f64(0)), c->cap())));
}

// mallocMmapThreshold(bytes) -> whether it took effect: glibc serves blocks of at least `bytes`
// with their own mapping, returned to the system when freed. glibc's default threshold grows
// with the blocks a process frees (up to 32 MiB), after which freed memory stays in its heap:
// a run that trades speed for memory (activation checkpointing) sets a small fixed one. For the
// rest of the process (glibc has no way back to the growing threshold).
FT_FN(mallocMmapThreshold) {
  const double bytes = a.f64(0);
  if (!(bytes >= 0 && bytes <= 32.0 * 1024 * 1024)) throw ft::ArgError("bytes: expected 0..33554432");
#if defined(__GLIBC__)
  return Napi::Boolean::New(a.env(), mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes)) == 1);
#else
  return Napi::Boolean::New(a.env(), false);
#endif
}

// emptyCpuCache(): returns the cached blocks to the system.
FT_FN(emptyCpuCache) {
  if (auto* c = CachingCPUAllocator::instance) c->empty();
  return a.env().Undefined();
}
