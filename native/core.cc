#include "core.h"

#include <cmath>
#include <limits>

namespace ft {

namespace {
thread_local Registry* tlsRegistry = nullptr;

int64_t reportedBytes(const at::Tensor& t) {
  // Only the tensor's own span: a rough but monotone signal for V8's GC heuristics.
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}
}  // namespace

Registry::~Registry() {
  if (tlsRegistry == this) tlsRegistry = nullptr;
}

std::string Registry::disposedMessage(uint32_t id) {
  return "tensor handle " + std::to_string(id) + " is disposed (a tensor was used after dispose() or after its scope ended)";
}

// V8 learns of tensor memory two ways. napi_adjust_external_memory feeds its GC heuristics but
// not its heap statistics: process.memoryUsage().external (V8's external_memory statistic) counts
// only ArrayBuffer backing stores, so a 256 MB tensor reported that way stayed invisible there.
// Large storages are therefore represented by external ArrayBuffers, which both the statistics
// and the GC heuristics count (V8 accounts a backing store's bytes once, for both); small
// tensors, where an ArrayBuffer per tensor would cost more than the op, keep the batched report.
uint32_t Registry::put(at::Tensor t) {
  if (!t.defined()) throw std::runtime_error("internal: an undefined tensor reached the registry");
  const int64_t bytes = reportedBytes(t);
  if (counters_ != nullptr) counters_[0] += static_cast<double>(bytes);
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    slots_[id] = std::move(t);
  } else {
    id = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::move(t));
    reported_.push_back(0);
    bigOf_.push_back(nullptr);
  }
  const at::Tensor& held = slots_[id];
  if (held.has_storage() && static_cast<int64_t>(held.storage().nbytes()) >= kAccountMin && held.storage().data() != nullptr) {
    accountBig(id, held);
  } else {
    report(bytes);
    reported_[id] = bytes;
  }
  ++live_;
  return id;
}

void Registry::accountBig(uint32_t id, const at::Tensor& t) {
  const c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  bigOf_[id] = s;
  auto it = big_.find(s);
  if (it != big_.end()) {  // a view of an accounted storage: nothing new to V8
    ++it->second.holders;
    return;
  }
  const auto bytes = static_cast<int64_t>(s->nbytes());
  napi_value ab = nullptr;
  napi_ref ref = nullptr;
  // The buffer only carries the size: no JS code ever holds it, so its memory is never read.
  // Runtimes with the V8 sandbox refuse external buffers; the batched report stands in.
  void* data = const_cast<void*>(s->data());
  if (napi_create_external_arraybuffer(env_, data, static_cast<size_t>(bytes), nullptr, nullptr, &ab) == napi_ok &&
      napi_create_reference(env_, ab, 1, &ref) == napi_ok) {
    big_.emplace(s, Big{1, bytes, ref});
  } else {
    report(bytes);
    big_.emplace(s, Big{1, bytes, nullptr});
  }
}

void Registry::releaseBig(uint32_t id) {
  auto it = big_.find(bigOf_[id]);
  bigOf_[id] = nullptr;
  if (it == big_.end() || --it->second.holders > 0) return;
  const Big b = it->second;
  big_.erase(it);
  if (b.buffer == nullptr) {
    report(-b.bytes);
    return;
  }
  napi_value ab = nullptr;
  if (napi_get_reference_value(env_, b.buffer, &ab) == napi_ok && ab != nullptr) napi_detach_arraybuffer(env_, ab);
  napi_delete_reference(env_, b.buffer);
}

void Registry::release(uint32_t id) {
  if (id >= slots_.size() || !slots_[id].defined()) throw HandleError(disposedMessage(id));
  // the storage stays alive while the slot holds it, so its key cannot be reused meanwhile
  if (bigOf_[id] != nullptr) releaseBig(id);
  slots_[id] = at::Tensor();
  report(-reported_[id]);
  reported_[id] = 0;
  free_.push_back(id);
  --live_;
}

Napi::Value Registry::counters(Napi::Env env) {
  if (countersRef_ == nullptr) {
    void* data = nullptr;
    napi_value ab;
    if (napi_create_arraybuffer(env, sizeof(double), &data, &ab) != napi_ok || napi_create_reference(env, ab, 1, &countersRef_) != napi_ok)
      throw std::runtime_error("internal: cannot create the allocation counters");
    counters_ = static_cast<double*>(data);
    counters_[0] = 0;
  }
  napi_value ab;
  napi_get_reference_value(env, countersRef_, &ab);
  return Napi::Float64Array::New(env, 1, Napi::ArrayBuffer(env, ab), 0);
}

void Registry::report(int64_t delta) {
  pendingBytes_ += delta;
  constexpr int64_t kStep = 1 << 20;
  if (pendingBytes_ >= kStep || pendingBytes_ <= -kStep) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env_, pendingBytes_, &ignored);
    pendingBytes_ = 0;
  }
}

Registry& registry() {
  if (!tlsRegistry) throw std::runtime_error("internal: fulltune addon not initialised on this thread");
  return *tlsRegistry;
}

void installRegistry(Napi::Env env) {
  auto* r = new Registry(env);
  env.SetInstanceData<Registry>(r);  // deleted with the environment
  tlsRegistry = r;
  r->counters(env);  // before any tensor, so every one is counted
}

std::vector<EntryDef>& entries() {
  static std::vector<EntryDef> all;
  return all;
}

void Args::bad(size_t i, const char* expected) const {
  throw ArgError("argument " + std::to_string(i) + ": expected " + expected);
}

uint32_t Args::handle(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) bad(i, "a tensor");
  const double d = info_[i].As<Napi::Number>().DoubleValue();
  if (d < 0) throw HandleError("tensor is disposed (a tensor was used after dispose() or after its scope ended)");
  return static_cast<uint32_t>(d);
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) bad(i, "an array of tensors");
  auto arr = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  auto& reg = registry();
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) bad(i, "an array of tensors");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0) throw HandleError("tensor is disposed (a tensor was used after dispose() or after its scope ended)");
    out.push_back(reg.get(static_cast<uint32_t>(d)));
  }
  return out;
}

int64_t Args::i64(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) bad(i, "an integer");
  const double d = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d) bad(i, "an integer");
  return static_cast<int64_t>(d);
}

double Args::f64(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) bad(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

bool Args::flag(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsBoolean()) bad(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::str(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsString()) bad(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) bad(i, "an array of integers");
  auto arr = info_[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) bad(i, "an array of integers");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::trunc(d) != d) bad(i, "an array of integers");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

at::Scalar Args::scalar(size_t i) const {
  if (i >= info_.Length()) bad(i, "a number or boolean");
  if (info_[i].IsBoolean()) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
  if (!info_[i].IsNumber()) bad(i, "a number");
  const double d = info_[i].As<Napi::Number>().DoubleValue();
  constexpr double kMax = 9007199254740992.0;  // 2^53: beyond it a double no longer names one integer
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= kMax) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

at::ScalarType dtypeFromCode(int64_t code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kHalf;
    case 3: return at::kBFloat16;
    case 4: return at::kLong;
    case 5: return at::kInt;
    case 6: return at::kBool;
    case 7: return at::kByte;
    default: throw ArgError("unknown dtype code " + std::to_string(code));
  }
}

int64_t codeOfDtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kHalf: return 2;
    case at::kBFloat16: return 3;
    case at::kLong: return 4;
    case at::kInt: return 5;
    case at::kBool: return 6;
    case at::kByte: return 7;
    default: throw std::runtime_error(std::string("dtype ") + c10::toString(t) + " is not supported by fulltune");
  }
}

at::ScalarType Args::dtype(size_t i) const { return dtypeFromCode(i64(i)); }

c10::Device Args::device(size_t i) const {
  const std::string s = str(i);
  try {
    return c10::Device(s);
  } catch (const c10::Error&) {
    throw ArgError("argument " + std::to_string(i) + ": unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
  }
}

Napi::Value ret(Napi::Env env, at::Tensor t) {
  return Napi::Number::New(env, static_cast<double>(registry().put(std::move(t))));
}

Napi::Value retList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); ++k) arr.Set(static_cast<uint32_t>(k), ret(env, ts[k]));
  return arr;
}

}  // namespace ft
