// Checkpoint I/O: reading validated spans of a file straight into tensors.
// (The callers, src/hub/safetensors.ts and checkpoint.ts, have validated every span against the file.)
#include <ATen/Parallel.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"

using ft::Args;

namespace {
// Closes the file descriptor on every path out.
struct Fd {
  int fd;
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Fresh memory is faulted in a 4 KiB page at a time as pread fills it, which costs more than
// the copy itself for a large checkpoint: ask for transparent huge pages on the 2 MiB-aligned
// part of a large destination first (a hint; where THP is off it changes nothing).
void adviseHuge(void* p, size_t len) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = 2u << 20;
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + len) & ~(kHuge - 1);
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
  (void)p;
  (void)len;
#endif
}

void preadAll(int fd, char* dst, size_t len, off_t off, const std::string& path) {
  while (len > 0) {
    const ssize_t n = ::pread(fd, dst, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("short read in " + path + " at byte " + std::to_string(off));
    dst += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
}
}  // namespace

namespace ft {
std::vector<FileSpan> fileSpans(const Args& a, size_t i, const char* fn) {
  if (!a.raw(i).IsArray()) throw ArgError("argument " + std::to_string(i) + ": expected an array of spans");
  auto spans = a.raw(i).As<Napi::Array>();
  auto& reg = registry();
  std::vector<FileSpan> out;
  out.reserve(spans.Length());
  for (uint32_t k = 0; k < spans.Length(); ++k) {
    Napi::Value v = spans.Get(k);
    if (!v.IsArray()) throw ArgError("argument " + std::to_string(i) + ": each span must be [offset, length, tensor]");
    auto s = v.As<Napi::Array>();
    const double off = s.Get(0u).As<Napi::Number>().DoubleValue();
    const double len = s.Get(1u).As<Napi::Number>().DoubleValue();
    const double h = s.Get(2u).As<Napi::Number>().DoubleValue();
    if (h < 0) throw HandleError(std::string(fn) + ": a target tensor is disposed");
    const at::Tensor& t = reg.get(static_cast<uint32_t>(h));
    if (!t.device().is_cpu() || !t.is_contiguous()) throw ArgError("span " + std::to_string(k) + ": target must be a contiguous CPU tensor");
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (static_cast<double>(bytes) != len) throw ArgError("span " + std::to_string(k) + ": length does not match the target tensor");
    if (off < 0) throw ArgError("span " + std::to_string(k) + ": negative offset");
    out.push_back({static_cast<int64_t>(off), bytes, t});
  }
  return out;
}
}  // namespace ft

// readInto(path, [[byteOffset, byteLength, handle], ...]): reads each span straight into an
// existing contiguous CPU tensor of exactly that size (a parameter being loaded): one copy
// from the page cache, none through JS.
FT_FN(readInto) {
  const std::string path = a.str(0);
  auto spans = ft::fileSpans(a, 1, "readInto");
  Fd file(path);
  for (auto& sp : spans) {
    const size_t bytes = sp.bytes;
    const auto off = sp.offset;
    if (bytes) {
      adviseHuge(sp.target.data_ptr(), bytes);
      // large spans in 4 MiB pieces across libtorch's threads: the page faults of filling
      // fresh memory then run in parallel
      char* dst = static_cast<char*>(sp.target.data_ptr());
      constexpr int64_t kPiece = 4 << 20;
      const int64_t pieces = (static_cast<int64_t>(bytes) + kPiece - 1) / kPiece;
      at::parallel_for(0, pieces, 1, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
          const int64_t start = k * kPiece;
          const int64_t len = std::min<int64_t>(kPiece, static_cast<int64_t>(bytes) - start);
          preadAll(file.fd, dst + start, static_cast<size_t>(len), static_cast<off_t>(off) + start, path);
        }
      });
    }
  }
  return a.env().Undefined();
}
