// Weights mapped from their checkpoint file instead of copied, as Python's safetensors loading
// does: the file is mapped copy-on-write (MAP_PRIVATE), and each parameter becomes a view of its
// span. Pages come from the page cache when first touched, and a page the optimizer writes
// becomes this process's own copy; the file never changes.
//
// A mapping can go wrong under us: a file truncated while mapped makes a touch of a page past
// its new end raise SIGBUS, and a file rewritten in place changes the pages not yet copied. So:
// - a SIGBUS inside a mapping puts a zero page there (the instruction then completes) and marks
//   the mapping; the native call that touched it, or the next one, fails naming the file;
// - native calls check, every 256 calls and at most every 200 ms, that no mapped file changed
//   (size, mtime, inode, as fstat reports them for the descriptor kept open), and fail naming
//   it if one did.
// Each mapping reports its failure once. FULLTUNE_MMAP=0 turns mapping off (weights are read).
#include <ATen/core/grad_mode.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core.h"

using ft::Args;

namespace {

// Address ranges the SIGBUS handler looks up (async-signal-safe: fixed slots of atomics).
struct Slot {
  std::atomic<uintptr_t> start{0}, end{0};
  std::atomic<int> hit{0};
};
constexpr size_t kSlots = 1024;
std::array<Slot, kSlots> slots;
std::atomic<int> anyHit{0};
struct sigaction previous;
std::once_flag handlerOnce;

void onSigbus(int sig, siginfo_t* info, void* ctx) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (auto& s : slots) {
    const uintptr_t b = s.start.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= s.end.load(std::memory_order_acquire)) continue;
    // a zero page over the one that is gone: the faulting access completes
    const long page = ::sysconf(_SC_PAGESIZE);
    void* p = reinterpret_cast<void*>(addr & ~static_cast<uintptr_t>(page - 1));
    if (::mmap(p, static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) break;
    s.hit.store(1, std::memory_order_release);
    anyHit.store(1, std::memory_order_release);
    return;
  }
  // not ours: what was there before
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) return previous.sa_sigaction(sig, info, ctx);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    return previous.sa_handler(sig);
  }
  ::signal(SIGBUS, SIG_DFL);  // the access faults again, with the default action
}

void installHandler() {
  std::call_once(handlerOnce, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onSigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGBUS, &sa, &previous) != 0) throw std::runtime_error(std::string("cannot install the SIGBUS handler: ") + std::strerror(errno));
  });
}

struct Mapping {
  std::string path;
  int fd = -1;
  void* base = MAP_FAILED;
  size_t size = 0;
  struct stat st {};
  size_t slot = kSlots;
  bool reported = false;
  ~Mapping();
};

std::mutex mappingsMutex;
std::vector<std::weak_ptr<Mapping>> mappings;
std::atomic<int64_t> nextCheckMs{0};

Mapping::~Mapping() {
  if (slot < kSlots) {
    slots[slot].start.store(0, std::memory_order_release);
    slots[slot].end.store(0, std::memory_order_release);
    slots[slot].hit.store(0, std::memory_order_release);
  }
  if (base != MAP_FAILED) ::munmap(base, size);
  if (fd >= 0) ::close(fd);
  ft::liveMappingCount.fetch_sub(1, std::memory_order_relaxed);
}

bool sameFile(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

std::shared_ptr<Mapping> mapFile(const std::string& path) {
  installHandler();
  auto m = std::make_shared<Mapping>();
  ft::liveMappingCount.fetch_add(1, std::memory_order_relaxed);
  m->path = path;
  m->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m->fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (::fstat(m->fd, &m->st) != 0) throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
  m->size = static_cast<size_t>(m->st.st_size);
  if (m->size == 0) throw std::runtime_error(path + " is empty");
  m->base = ::mmap(nullptr, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, m->fd, 0);
  if (m->base == MAP_FAILED) throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
  std::lock_guard<std::mutex> lock(mappingsMutex);
  for (size_t k = 0; k < kSlots; ++k) {
    if (slots[k].start.load(std::memory_order_acquire) != 0) continue;
    slots[k].hit.store(0, std::memory_order_release);
    slots[k].end.store(reinterpret_cast<uintptr_t>(m->base) + m->size, std::memory_order_release);
    slots[k].start.store(reinterpret_cast<uintptr_t>(m->base), std::memory_order_release);
    m->slot = k;
    break;
  }
  if (m->slot == kSlots) throw std::runtime_error("too many mapped checkpoint files at once (" + std::to_string(kSlots) + ")");
  mappings.erase(std::remove_if(mappings.begin(), mappings.end(), [](const auto& w) { return w.expired(); }), mappings.end());
  mappings.push_back(m);
  return m;
}

}  // namespace

namespace ft {

std::atomic<int> liveMappingCount{0};

void checkMappingsSlow() {
  // a SIGBUS is looked at by the next call; a changed file every 256 calls, at most every 200 ms
  thread_local unsigned calls = 0;
  const bool hit = anyHit.load(std::memory_order_acquire) != 0 && anyHit.exchange(0, std::memory_order_acq_rel) != 0;
  if (!hit && (++calls & 255u) != 0) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (!hit && now < nextCheckMs.load(std::memory_order_relaxed)) return;
  nextCheckMs.store(now + 200, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mappingsMutex);
  for (auto& w : mappings) {
    auto m = w.lock();
    if (!m || m->reported) continue;
    struct stat now_st {};
    const bool truncated = m->slot < kSlots && slots[m->slot].hit.load(std::memory_order_acquire) != 0;
    const bool changed = ::fstat(m->fd, &now_st) != 0 || !sameFile(now_st, m->st);
    if (!truncated && !changed) continue;
    m->reported = true;
    throw std::runtime_error(m->path + (truncated ? " was truncated" : " changed") +
                             " while its weights were mapped from it: the weights read from it are not the checkpoint's; load the "
                             "model again (FULLTUNE_MMAP=0 reads weights into memory instead of mapping them)");
  }
}

}  // namespace ft

// mapInto(path, [[byteOffset, byteLength, handle], ...]): each target tensor (a contiguous CPU
// parameter of exactly that size) becomes a view of its span of the file, mapped copy-on-write;
// the mapping lives while any of them does. Spans not aligned to their element size are refused.
FT_FN(mapInto) {
  const std::string path = a.str(0);
  auto spans = ft::fileSpans(a, 1, "mapInto");
  auto m = mapFile(path);
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto off = spans[i].offset;
    at::Tensor t = spans[i].target;
    if (static_cast<size_t>(off) + spans[i].bytes > m->size) throw ft::ArgError("span " + std::to_string(i) + ": outside the file");
    if (static_cast<size_t>(off) % t.element_size() != 0) throw ft::ArgError("span " + std::to_string(i) + ": not aligned to its element size");
    if (spans[i].bytes == 0) continue;
    void* p = static_cast<char*>(m->base) + static_cast<size_t>(off);
    at::Tensor view = at::from_blob(p, t.sizes(), [m](void*) {}, t.options().requires_grad(false));
    t.set_data(view);
  }
  return a.env().Undefined();
}

// mappedFiles() -> the paths of the files mapped now (a file once per mapping)
FT_FN(mappedFiles) {
  std::lock_guard<std::mutex> lock(mappingsMutex);
  std::vector<std::string> out;
  for (auto& w : mappings)
    if (auto m = w.lock()) out.push_back(m->path);
  Napi::Array arr = Napi::Array::New(a.env(), out.size());
  for (size_t k = 0; k < out.size(); ++k) arr.Set(static_cast<uint32_t>(k), Napi::String::New(a.env(), out[k]));
  return arr;
}
