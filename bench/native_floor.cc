// The floor under both fulltune and PyTorch: the same work called from C++ on the same libtorch,
// timed inside the process that measures a binding (Node loads this file's addon build, Python
// its plain build through ctypes), chunk by chunk between the binding's own chunks. A binding's
// overhead is then its time minus a floor timed in the same process, threads and moments.
// Built by bench/common.ts with scripts/locate-libtorch.js's flags.
#include <ATen/ATen.h>

#include <chrono>
#include <utility>
#include <vector>

namespace {

template <typename F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

extern "C" {

// Seconds per op over iters calls. op 0: add of two 4x4 tensors; 1: matmul of two 64x64.
double ft_floor_op(int op, long long iters) {
  static const at::Tensor a = at::randn({4, 4}), b = at::randn({4, 4});
  static const at::Tensor m1 = at::randn({64, 64}), m2 = at::randn({64, 64});
  if (iters < 1) return 0;
  if (op == 0) return seconds([&] { for (long long i = 0; i < iters; ++i) auto c = at::add(a, b); }) / iters;
  if (op == 1) return seconds([&] { for (long long i = 0; i < iters; ++i) auto c = at::matmul(m1, m2); }) / iters;
  return -1;
}

// Seconds per run of a list of float32 matrix products, each (m, k, n, batch): an (m, k) by a
// (k, n) matrix (mm), or batch of them at once (bmm), into a result allocated as a step's would
// be. One warm-up run first.
double ft_floor_gemms(const long long* mknb, int count, long long reps) {
  std::vector<std::pair<at::Tensor, at::Tensor>> gs;
  for (int i = 0; i < count; ++i) {
    const long long* s = mknb + 4 * i;
    if (s[3] > 1) gs.emplace_back(at::randn({s[3], s[0], s[1]}), at::randn({s[3], s[1], s[2]}));
    else gs.emplace_back(at::randn({s[0], s[1]}), at::randn({s[1], s[2]}));
  }
  auto run = [&] {
    for (auto& [a, b] : gs) auto c = a.dim() == 3 ? at::bmm(a, b) : at::mm(a, b);
  };
  run();
  if (reps < 1) return 0;
  return seconds([&] { for (long long r = 0; r < reps; ++r) run(); }) / reps;
}
}

#ifdef FT_FLOOR_NAPI
// The same two functions for Node: floorOp(op, iters), floorGemms(Float64Array of (m, k, n, batch) ..., reps).
#include <node_api.h>

namespace {

double arg(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

napi_value number(napi_env env, double d) {
  napi_value out;
  napi_create_double(env, d, &out);
  return out;
}

napi_value floorOp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  return number(env, ft_floor_op(static_cast<int>(arg(env, argv[0])), static_cast<long long>(arg(env, argv[1]))));
}

napi_value floorGemms(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr);
  const auto* d = static_cast<const double*>(data);
  std::vector<long long> mknb(d, d + length);
  return number(env, ft_floor_gemms(mknb.data(), static_cast<int>(length / 4), static_cast<long long>(arg(env, argv[1]))));
}

napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "floorOp", NAPI_AUTO_LENGTH, floorOp, nullptr, &f);
  napi_set_named_property(env, exports, "floorOp", f);
  napi_create_function(env, "floorGemms", NAPI_AUTO_LENGTH, floorGemms, nullptr, &f);
  napi_set_named_property(env, exports, "floorGemms", f);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
#endif
