// Creation, metadata, read-back and lifetime of tensors.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "core.h"

using ft::Args;

namespace {

at::TensorOptions opts(const Args& a, size_t dtypeAt, size_t deviceAt) {
  return at::TensorOptions().dtype(a.dtype(dtypeAt)).device(a.device(deviceAt));
}

// The dtype a JS typed array carries, for fromData.
at::ScalarType dtypeOfTypedArray(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_bigint64_array: return at::kLong;
    case napi_int32_array: return at::kInt;
    case napi_uint8_array: return at::kByte;
    default: throw ft::ArgError("argument 0: expected a Float32Array, Float64Array, BigInt64Array, Int32Array or Uint8Array");
  }
}

}  // namespace

// fromData(typedArray, shape, dtype, device): copies the data once into a new tensor.
FT_FN(fromData) {
  if (!a.raw(0).IsTypedArray()) throw ft::ArgError("argument 0: expected a typed array");
  auto ta = a.raw(0).As<Napi::TypedArray>();
  const auto srcType = dtypeOfTypedArray(ta.TypedArrayType());
  const auto shape = a.ints(1);
  int64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) throw ft::ArgError("shape has a negative dimension");
    numel *= d;
  }
  if (numel != static_cast<int64_t>(ta.ElementLength()))
    throw ft::ArgError("shape holds " + std::to_string(numel) + " elements but the data has " + std::to_string(ta.ElementLength()));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(srcType));
  auto buf = ta.ArrayBuffer();
  if (numel > 0) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(buf.Data()) + ta.ByteOffset(), ta.ByteLength());
  const auto dtype = a.dtype(2);
  const auto device = a.device(3);
  if (dtype != srcType || device != t.device()) t = t.to(device, dtype);
  return ft::ret(a.env(), t);
}

FT_FN(zeros) { return ft::ret(a.env(), at::zeros(a.ints(0), opts(a, 1, 2))); }
FT_FN(ones) { return ft::ret(a.env(), at::ones(a.ints(0), opts(a, 1, 2))); }
FT_FN(full) { return ft::ret(a.env(), at::full(a.ints(0), a.scalar(1), opts(a, 2, 3))); }
FT_FN(empty) { return ft::ret(a.env(), at::empty(a.ints(0), opts(a, 1, 2))); }
FT_FN(arange) { return ft::ret(a.env(), at::arange(a.scalar(0), a.scalar(1), a.scalar(2), opts(a, 3, 4))); }
FT_FN(randn) { return ft::ret(a.env(), at::randn(a.ints(0), opts(a, 1, 2))); }
FT_FN(rand) { return ft::ret(a.env(), at::rand(a.ints(0), opts(a, 1, 2))); }
FT_FN(randint) { return ft::ret(a.env(), at::randint(a.i64(0), a.i64(1), a.ints(2), opts(a, 3, 4))); }

// randperm(n, generator): torch.randperm(n, generator=g), int64 on the CPU. generator: a seed
// (g = torch.Generator().manual_seed(seed): the same permutation whatever drew before), a state
// from rngState('cpu') (a new generator set to it) or null (the default CPU generator, advanced
// as torch.randperm(n) advances it).
FT_FN(randperm) {
  const int64_t n = a.i64(0);
  if (n < 0) throw ft::ArgError("argument 0: expected a non-negative length");
  const Napi::Value g = a.raw(1);
  if (g.IsNull() || g.IsUndefined()) return ft::ret(a.env(), at::randperm(n, at::kLong));
  at::Generator gen = at::detail::createCPUGenerator();
  if (g.IsBuffer()) {
    auto buf = g.As<Napi::Buffer<uint8_t>>();
    at::Tensor state = at::empty({static_cast<int64_t>(buf.Length())}, at::kByte);
    std::memcpy(state.data_ptr(), buf.Data(), buf.Length());
    try {
      gen.set_state(state);
    } catch (const c10::Error&) {
      throw ft::ArgError("argument 1: not a CPU generator state (rngState('cpu') gives one)");
    }
  } else {
    if (!g.IsNumber() || a.i64(1) < 0) throw ft::ArgError("argument 1: expected a non-negative seed, a CPU generator state (Buffer) or null");
    gen.set_current_seed(static_cast<uint64_t>(a.i64(1)));
  }
  return ft::ret(a.env(), at::randperm(n, gen, at::TensorOptions().dtype(at::kLong)));
}

// Seeds the CPU generator and every CUDA generator, as torch.manual_seed does.
FT_FN(manualSeed) {
  const auto seed = static_cast<uint64_t>(a.i64(0));
  {
    auto gen = at::globalContext().defaultGenerator(at::kCPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  const auto& hooks = at::detail::getCUDAHooks();
  if (hooks.hasCUDA()) {
    for (c10::DeviceIndex i = 0; i < hooks.deviceCount(); ++i) {
      auto gen = hooks.getDefaultGenerator(i);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  return a.env().Undefined();
}

// rngState(device) / setRngState(device, bytes): the full state of a device's default generator
// ('cpu', 'cuda', 'cuda:N'), as torch.get_rng_state / torch.cuda.get_rng_state: what checkpoints
// keep for an exact resume, and what activation checkpointing restores so that a recomputed
// block draws the same dropout masks.
static at::Generator generatorOf(const std::string& device) {
  c10::Device d(device);
  if (d.is_cuda() && !d.has_index()) d = c10::Device(c10::kCUDA, 0);
  return at::globalContext().defaultGenerator(d);
}
FT_FN(rngState) {
  auto gen = generatorOf(a.str(0));
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();
  }
  return Napi::Buffer<uint8_t>::Copy(a.env(), state.data_ptr<uint8_t>(), static_cast<size_t>(state.numel()));
}
FT_FN(setRngState) {
  auto gen = generatorOf(a.str(0));
  if (!a.raw(1).IsBuffer()) throw ft::ArgError("argument 1: expected a Buffer");
  auto buf = a.raw(1).As<Napi::Buffer<uint8_t>>();
  at::Tensor state = at::empty({static_cast<int64_t>(buf.Length())}, at::kByte);
  std::memcpy(state.data_ptr(), buf.Data(), buf.Length());
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return a.env().Undefined();
}

// share(t): a second handle on the same tensor (same autograd identity: its .grad is t's).
FT_FN(share) { return ft::ret(a.env(), a.tensor(0)); }

FT_FN(shape) {
  const auto& t = a.tensor(0);
  auto arr = Napi::Array::New(a.env(), static_cast<size_t>(t.dim()));
  for (int64_t d = 0; d < t.dim(); ++d) arr.Set(static_cast<uint32_t>(d), Napi::Number::New(a.env(), static_cast<double>(t.size(d))));
  return arr;
}
FT_FN(dtype) { return Napi::Number::New(a.env(), static_cast<double>(ft::codeOfDtype(a.tensor(0).scalar_type()))); }
FT_FN(device) { return Napi::String::New(a.env(), a.tensor(0).device().str()); }
FT_FN(numel) { return Napi::Number::New(a.env(), static_cast<double>(a.tensor(0).numel())); }
FT_FN(isContiguous) { return Napi::Boolean::New(a.env(), a.tensor(0).is_contiguous()); }

// toArray(t): a typed array holding a copy of the data (float16/bfloat16 widen to float32).
FT_FN(toArray) {
  at::Tensor t = a.tensor(0).detach();
  auto st = t.scalar_type();
  if (st == at::kHalf || st == at::kBFloat16) st = at::kFloat;
  t = t.to(at::kCPU, st).contiguous();
  const size_t n = static_cast<size_t>(t.numel());
  const size_t bytes = n * static_cast<size_t>(t.element_size());
  auto ab = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes) std::memcpy(ab.Data(), t.data_ptr(), bytes);
  switch (st) {
    case at::kFloat: return Napi::Float32Array::New(a.env(), n, ab, 0);
    case at::kDouble: return Napi::Float64Array::New(a.env(), n, ab, 0);
    case at::kLong: return Napi::TypedArrayOf<int64_t>::New(a.env(), n, ab, 0, napi_bigint64_array);
    case at::kInt: return Napi::Int32Array::New(a.env(), n, ab, 0);
    case at::kBool:
    case at::kByte: return Napi::Uint8Array::New(a.env(), n, ab, 0);
    default: throw std::runtime_error(std::string("toArray: unsupported dtype ") + c10::toString(st));
  }
}

// The raw bytes of a contiguous CPU copy, in the tensor's own dtype (for checkpoint writers).
FT_FN(toBytes) {
  at::Tensor t = a.tensor(0).detach().to(at::kCPU).contiguous();
  const size_t bytes = static_cast<size_t>(t.numel()) * static_cast<size_t>(t.element_size());
  return Napi::Buffer<uint8_t>::Copy(a.env(), static_cast<const uint8_t*>(t.data_ptr()), bytes);
}

// fromBytes(buffer, byteOffset, byteLength, shape, dtype): one copy out of a byte buffer in any dtype.
FT_FN(fromBytes) {
  if (!a.raw(0).IsTypedArray() && !a.raw(0).IsArrayBuffer()) throw ft::ArgError("argument 0: expected a Buffer");
  const uint8_t* base;
  size_t length;
  if (a.raw(0).IsArrayBuffer()) {
    auto ab = a.raw(0).As<Napi::ArrayBuffer>();
    base = static_cast<const uint8_t*>(ab.Data());
    length = ab.ByteLength();
  } else {
    auto ta = a.raw(0).As<Napi::TypedArray>();
    base = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    length = ta.ByteLength();
  }
  const int64_t off = a.i64(1), len = a.i64(2);
  if (off < 0 || len < 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(len) > length)
    throw ft::ArgError("byte range outside the buffer");
  const auto shape = a.ints(3);
  const auto dtype = a.dtype(4);
  int64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) throw ft::ArgError("shape has a negative dimension");
    numel *= d;
  }
  if (numel * static_cast<int64_t>(c10::elementSize(dtype)) != len) throw ft::ArgError("shape and dtype do not match the byte length");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (len) std::memcpy(t.data_ptr(), base + off, static_cast<size_t>(len));
  return ft::ret(a.env(), t);
}

FT_FN(item) {
  const auto& t = a.tensor(0);
  if (t.numel() != 1) throw std::runtime_error("item() needs a tensor with exactly one element, got " + std::to_string(t.numel()));
  const auto s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(a.env(), s.toBool());
  return Napi::Number::New(a.env(), s.toDouble());
}

FT_FN(dispose) {
  ft::registry().release(a.handle(0));
  return a.env().Undefined();
}

// disposeMany(handles: Uint32Array): dispose() of each, in order: a closing scope frees its
// tensors in one call. Every handle is checked before any is freed.
FT_FN(disposeMany) {
  const Napi::Value v = a.raw(0);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) throw ft::ArgError("disposeMany: expected a Uint32Array of handles");
  const auto handles = v.As<Napi::Uint32Array>();
  const uint32_t* h = handles.Data();
  const size_t n = handles.ElementLength();
  for (size_t i = 0; i < n; ++i) (void)ft::registry().get(h[i]);
  for (size_t i = 0; i < n; ++i) ft::registry().release(h[i]);
  return a.env().Undefined();
}

// allocationCounters(): the registry's Float64Array of counters shared with JS (see core.h).
FT_FN(allocationCounters) { return ft::registry().counters(a.env()); }

// memory(): live tensors and distinct storage bytes per device.
FT_FN(memory) {
  const auto& reg = ft::registry();
  std::set<const void*> seen;
  std::map<std::string, double> bytes;
  for (const auto& t : reg.slots()) {
    if (!t.defined()) continue;
    const auto dev = t.device().str();
    if (!bytes.count(dev)) bytes[dev] = 0;
    const auto* impl = t.storage().unsafeGetStorageImpl();
    if (impl && seen.insert(impl).second) bytes[dev] += static_cast<double>(t.storage().nbytes());
  }
  auto out = Napi::Object::New(a.env());
  out.Set("tensors", Napi::Number::New(a.env(), static_cast<double>(reg.live())));
  auto per = Napi::Object::New(a.env());
  for (const auto& [dev, b] : bytes) per.Set(dev, Napi::Number::New(a.env(), b));
  out.Set("bytes", per);
  return out;
}

FT_FN(cudaAvailable) { return Napi::Boolean::New(a.env(), at::detail::getCUDAHooks().hasCUDA()); }
FT_FN(cudaDeviceCount) {
  const auto& hooks = at::detail::getCUDAHooks();
  return Napi::Number::New(a.env(), hooks.hasCUDA() ? hooks.deviceCount() : 0);
}
FT_FN(numThreads) { return Napi::Number::New(a.env(), at::get_num_threads()); }
FT_FN(setNumThreads) {
  const auto n = a.i64(0);
  if (n < 1) throw ft::ArgError("argument 0: expected a positive thread count");
  at::set_num_threads(static_cast<int>(n));
  return a.env().Undefined();
}
// parallelThreadsUsed(): how many threads one at::parallel_for of the addon's own code ran on.
// It equals numThreads() only when the addon was compiled for libtorch's parallel backend; an
// addon built without -fopenmp against an OpenMP libtorch runs its loops on one thread, silently.
FT_FN(parallelThreadsUsed) {
  std::mutex m;
  std::set<int> seen;
  at::parallel_for(0, 1024, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(m);
    seen.insert(at::get_thread_num());
  });
  return Napi::Number::New(a.env(), static_cast<double>(seen.size()));
}
// buildInfo(): how this addon was compiled: { openmp: whether its own at::parallel_for loops are
// parallel (compiled with OpenMP), compiler: 'gcc', 'clang' or 'other' }.
FT_FN(buildInfo) {
  auto o = Napi::Object::New(a.env());
#ifdef _OPENMP
  o.Set("openmp", true);
#else
  o.Set("openmp", false);
#endif
#if defined(__clang__)
  o.Set("compiler", "clang");
#elif defined(__GNUC__)
  o.Set("compiler", "gcc");
#else
  o.Set("compiler", "other");
#endif
  return o;
}
FT_FN(libtorchVersion) {
  return Napi::String::New(a.env(), std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                                         std::to_string(TORCH_VERSION_PATCH));
}
