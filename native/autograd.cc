// Autograd: gradients, grad mode.
#include <ATen/core/grad_mode.h>

#include "core.h"

using ft::Args;

// backward(t, grad?, retainGraph)
FT_FN(backward) {
  const auto& t = a.tensor(0);
  const auto g = a.optTensor(1);
  const bool retain = a.missing(2) ? false : a.flag(2);
  t.backward(g.value_or(at::Tensor()), retain);
  return a.env().Undefined();
}
// grad(t): a new handle on t.grad, or -1 when t has none.
FT_FN(grad) {
  const auto& g = a.tensor(0).grad();
  if (!g.defined()) return Napi::Number::New(a.env(), -1);
  return ft::ret(a.env(), g);
}
FT_FN(setGrad) {
  auto& t = const_cast<at::Tensor&>(a.tensor(0));
  if (a.missing(1)) t.mutable_grad() = at::Tensor();
  else t.mutable_grad() = a.tensor(1);
  return a.env().Undefined();
}
FT_FN(requiresGrad) { return Napi::Boolean::New(a.env(), a.tensor(0).requires_grad()); }
FT_FN(setRequiresGrad) {
  a.tensor(0).set_requires_grad(a.flag(1));
  return a.env().Undefined();
}
FT_FN(isLeaf) { return Napi::Boolean::New(a.env(), a.tensor(0).is_leaf()); }
FT_FN(retainGrad) {
  a.tensor(0).retain_grad();
  return a.env().Undefined();
}
// setGradEnabled(on) -> previous mode
FT_FN(setGradEnabled) {
  const bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(a.flag(0));
  return Napi::Boolean::New(a.env(), prev);
}
FT_FN(isGradEnabled) { return Napi::Boolean::New(a.env(), c10::GradMode::is_enabled()); }
