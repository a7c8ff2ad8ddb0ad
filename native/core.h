// The addon's shared core: the handle registry, argument parsing, and the one
// error-translation path every entry point goes through.
//
// Tensors cross into JS as small integer handles into a per-environment slot table,
// not as wrapped objects: creating a JS number is far cheaper than napi_wrap plus a
// new object per result, which is what keeps per-op overhead below PyTorch's.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace ft {

// Bad arguments from JS: becomes a TypeError.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A handle that names no live tensor (disposed, or never made here): becomes an Error.
struct HandleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Registry {
 public:
  explicit Registry(napi_env env) : env_(env) {}
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  uint32_t put(at::Tensor t);
  const at::Tensor& get(uint32_t id) const {
    if (id >= slots_.size() || !slots_[id].defined()) throw HandleError(disposedMessage(id));
    return slots_[id];
  }
  void release(uint32_t id);
  size_t live() const { return live_; }
  const std::vector<at::Tensor>& slots() const { return slots_; }
  // A Float64Array shared with JS: [0] bytes of every tensor put so far (its own span), which
  // the GC backstop's young generation reads without a call to bound itself by size.
  Napi::Value counters(Napi::Env env);
  // Storages of at least this many bytes are accounted one by one (see put()).
  static constexpr int64_t kAccountMin = 1 << 20;

 private:
  static std::string disposedMessage(uint32_t id);
  // Reporting to V8 costs a call per tensor; batching into 1 MiB steps keeps it off the hot path.
  void report(int64_t delta);
  void accountBig(uint32_t id, const at::Tensor& t);
  void releaseBig(uint32_t id);
  int64_t pendingBytes_ = 0;
  napi_env env_;
  std::vector<at::Tensor> slots_;
  std::vector<int64_t> reported_;  // bytes reported to V8 per slot, returned on release
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  // A large storage is represented to V8 by an external ArrayBuffer over its memory, held only
  // here (never handed to JS) and detached when the last slot holding the storage goes.
  struct Big {
    int64_t holders;
    int64_t bytes;
    napi_ref buffer;  // null when V8 refused external buffers (then `bytes` went through report())
  };
  std::unordered_map<const c10::StorageImpl*, Big> big_;
  std::vector<const c10::StorageImpl*> bigOf_;  // per slot: its accounted storage, or null
  napi_ref countersRef_ = nullptr;
  double* counters_ = nullptr;
};

// A span of a checkpoint file and the tensor it fills: [byteOffset, byteLength, handle] from JS,
// the target a contiguous CPU tensor of exactly byteLength bytes (io.cc: readInto, mapInto).
struct FileSpan {
  int64_t offset;
  size_t bytes;
  at::Tensor target;
};
class Args;
std::vector<FileSpan> fileSpans(const Args& a, size_t i, const char* fn);

// Puts the large-block cache of cpu_cache.cc in front of libtorch's CPU allocator (once).
void installCpuCache();

// x * (mask ? scale : 0) for a byte mask, differentiable in x (dropout.cc): both dropouts' product.
at::Tensor maskedScale(const at::Tensor& x, const at::Tensor& mask, double scale);
// at::dropout(x, p, train), bit for bit and leaving the same generator state, with a faster
// draw on the CPU where a self-check at first use finds it equal to libtorch's (exact_dropout.cc).
at::Tensor exactDropout(const at::Tensor& x, double p, bool train);
// exactDropout of the rows at index of a (total, ...) tensor, as at::dropout draws for all of it.
at::Tensor exactDropoutRows(const at::Tensor& x, double p, bool train, const at::Tensor& index, int64_t total);
// at::scaled_dot_product_attention, bit for bit, its attention dropout through exactDropout.
at::Tensor exactAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask, double p,
                          bool causal, std::optional<double> scale, bool gqa);

// The registry of the environment (main thread or worker) running on this thread.
Registry& registry();
void installRegistry(Napi::Env env);

// Argument access with type checks; every failure is an ArgError naming the position.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}
  Napi::Env env() const { return info_.Env(); }
  size_t size() const { return info_.Length(); }
  bool missing(size_t i) const { return i >= info_.Length() || info_[i].IsUndefined() || info_[i].IsNull(); }

  const at::Tensor& tensor(size_t i) const { return registry().get(handle(i)); }
  std::optional<at::Tensor> optTensor(size_t i) const {
    if (missing(i)) return std::nullopt;
    return tensor(i);
  }
  std::vector<at::Tensor> tensors(size_t i) const;
  uint32_t handle(size_t i) const;
  int64_t i64(size_t i) const;
  double f64(size_t i) const;
  bool flag(size_t i) const;
  std::string str(size_t i) const;
  std::vector<int64_t> ints(size_t i) const;
  std::optional<std::vector<int64_t>> optInts(size_t i) const {
    if (missing(i)) return std::nullopt;
    return ints(i);
  }
  std::optional<double> optF64(size_t i) const {
    if (missing(i)) return std::nullopt;
    return f64(i);
  }
  // A JS number as a Scalar: integral values stay integral so that `intTensor + 2` stays int, as in Python.
  at::Scalar scalar(size_t i) const;
  at::ScalarType dtype(size_t i) const;
  std::optional<at::ScalarType> optDtype(size_t i) const {
    if (missing(i)) return std::nullopt;
    return dtype(i);
  }
  c10::Device device(size_t i) const;
  Napi::Value raw(size_t i) const { return info_[i]; }

 private:
  [[noreturn]] void bad(size_t i, const char* expected) const;
  const Napi::CallbackInfo& info_;
};

// Dtype codes shared with src/tensor/dtype.ts.
at::ScalarType dtypeFromCode(int64_t code);
int64_t codeOfDtype(at::ScalarType t);

Napi::Value ret(Napi::Env env, at::Tensor t);
Napi::Value retList(Napi::Env env, const std::vector<at::Tensor>& ts);

// Weights mapped from checkpoint files (mapped.cc): fails, naming the file, when one was
// truncated or changed since it was mapped. Cheap when nothing is mapped.
extern std::atomic<int> liveMappingCount;
void checkMappingsSlow();
inline void checkMappings() {
  if (liveMappingCount.load(std::memory_order_relaxed) != 0) checkMappingsSlow();
}

// The single catch path: ArgError -> TypeError; libtorch, handle and other failures -> Error.
// A mapped checkpoint file that went wrong fails the call that noticed it.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* name, F&& body) {
  try {
    Napi::Value out = body(info);
    checkMappings();
    return out;
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(name) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(name) + ": " + e.what());
  }
}

using Entry = Napi::Value (*)(const Napi::CallbackInfo&);
struct EntryDef {
  const char* name;
  Entry fn;
};
std::vector<EntryDef>& entries();
struct Registrar {
  Registrar(const char* name, Entry fn) { entries().push_back({name, fn}); }
};

}  // namespace ft

// Defines an exported function `name` whose body runs inside the one catch path.
// `a` is the Args of the call.
#define FT_FN(name)                                                                     \
  static Napi::Value name##_body(const ft::Args& a);                                    \
  static Napi::Value name##_entry(const Napi::CallbackInfo& info) {                     \
    return ft::guarded(info, #name, [](const Napi::CallbackInfo& i) { return name##_body(ft::Args(i)); }); \
  }                                                                                     \
  static ft::Registrar name##_registrar(#name, name##_entry);                          \
  static Napi::Value name##_body([[maybe_unused]] const ft::Args& a)
