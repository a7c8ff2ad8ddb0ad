// Mixed precision: autocast regions and the gradient scaler's kernels.
#include <ATen/autocast_mode.h>

#include "core.h"

using ft::Args;

namespace {
c10::DeviceType deviceType(const std::string& s) {
  if (s == "cpu") return c10::DeviceType::CPU;
  if (s == "cuda") return c10::DeviceType::CUDA;
  throw ft::ArgError("autocast device must be 'cpu' or 'cuda', got '" + s + "'");
}
}  // namespace

// enterAutocast(device, dtype) -> previous [enabled, dtypeCode]: as `torch.autocast(...).__enter__`.
FT_FN(enterAutocast) {
  const auto dt = deviceType(a.str(0));
  const auto dtype = a.dtype(1);
  auto prev = Napi::Array::New(a.env(), 2);
  prev.Set(0u, Napi::Boolean::New(a.env(), at::autocast::is_autocast_enabled(dt)));
  prev.Set(1u, Napi::Number::New(a.env(), static_cast<double>(ft::codeOfDtype(at::autocast::get_autocast_dtype(dt)))));
  at::autocast::set_autocast_enabled(dt, true);
  at::autocast::set_autocast_dtype(dt, dtype);
  at::autocast::increment_nesting();
  return prev;
}

// exitAutocast(device, prevEnabled, prevDtypeCode): restores, and drops the cast cache when the outermost region ends.
FT_FN(exitAutocast) {
  const auto dt = deviceType(a.str(0));
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(dt, a.flag(1));
  at::autocast::set_autocast_dtype(dt, a.dtype(2));
  return a.env().Undefined();
}

// ampUnscale(params, invScale, foundInf): grads *= invScale in place; foundInf set to 1 if any is inf/nan.
FT_FN(ampUnscale) {
  auto params = a.tensors(0);
  at::Tensor inv = a.tensor(1);
  at::Tensor found = a.tensor(2);
  std::vector<at::Tensor> grads;
  for (auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  at::NoGradGuard noGrad;
  if (!grads.empty()) at::_amp_foreach_non_finite_check_and_unscale_(grads, found, inv);
  return a.env().Undefined();
}

// ampUpdateScale(scale, growthTracker, foundInf, growth, backoff, interval): torch.amp.GradScaler.update's kernel.
FT_FN(ampUpdateScale) {
  at::Tensor scale = a.tensor(0);
  at::Tensor tracker = a.tensor(1);
  at::NoGradGuard noGrad;
  at::_amp_update_scale_(scale, tracker, a.tensor(2), a.f64(3), a.f64(4), a.i64(5));
  return a.env().Undefined();
}
