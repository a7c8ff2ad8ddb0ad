// Optimizer math over whole parameter lists, one native call per step.
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <map>
#include <utility>

#include "core.h"

using ft::Args;

namespace {

struct Bucket {
  std::vector<at::Tensor> params, grads, expAvg, expAvgSq, steps;
};

std::vector<at::Tensor> handles(const Args& a, const Napi::Object& group, const char* key) {
  Napi::Value v = group.Get(key);
  if (!v.IsArray()) throw ft::ArgError(std::string("group.") + key + ": expected an array of tensors");
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value h = arr.Get(k);
    if (!h.IsNumber()) throw ft::ArgError(std::string("group.") + key + ": expected an array of tensors");
    const double d = h.As<Napi::Number>().DoubleValue();
    if (d < 0) throw ft::HandleError(std::string("group.") + key + ": a tensor is disposed");
    out.push_back(ft::registry().get(static_cast<uint32_t>(d)));
  }
  (void)a;
  return out;
}

double number(const Napi::Object& group, const char* key) {
  Napi::Value v = group.Get(key);
  if (!v.IsNumber()) throw ft::ArgError(std::string("group.") + key + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

// adamwStep(groups, beta1, beta2, eps, maximize, skipIf?)
// groups: [{params, expAvg, expAvgSq, steps, lr, weightDecay}], the arrays parallel.
// Same update as torch.optim.AdamW(fused=True): parameters without a gradient are skipped,
// and tensors are bucketed by (device, dtype) as the fused kernel requires. skipIf: a 0-dim
// float tensor, 1 to leave everything as it was (the kernel's found_inf, as GradScaler.step
// passes it to a fused optimizer): the step is decided on the device, without reading the flag.
FT_FN(adamwStep) {
  if (!a.raw(0).IsArray()) throw ft::ArgError("argument 0: expected an array of parameter groups");
  auto groups = a.raw(0).As<Napi::Array>();
  const double beta1 = a.f64(1), beta2 = a.f64(2), eps = a.f64(3);
  const bool maximize = a.missing(4) ? false : a.flag(4);
  const auto skip = a.optTensor(5);
  if (skip && (skip->numel() != 1 || skip->scalar_type() != at::kFloat)) throw ft::ArgError("skipIf: expected a one-element float32 tensor");
  at::NoGradGuard noGrad;
  for (uint32_t gi = 0; gi < groups.Length(); ++gi) {
    Napi::Value gv = groups.Get(gi);
    if (!gv.IsObject()) throw ft::ArgError("argument 0: each group must be an object");
    auto g = gv.As<Napi::Object>();
    auto params = handles(a, g, "params");
    auto expAvg = handles(a, g, "expAvg");
    auto expAvgSq = handles(a, g, "expAvgSq");
    auto steps = handles(a, g, "steps");
    const double lr = number(g, "lr"), wd = number(g, "weightDecay");
    if (expAvg.size() != params.size() || expAvgSq.size() != params.size() || steps.size() != params.size())
      throw ft::ArgError("group " + std::to_string(gi) + ": params, expAvg, expAvgSq and steps differ in length");
    std::map<std::pair<std::string, int>, Bucket> buckets;
    for (size_t k = 0; k < params.size(); ++k) {
      const auto& grad = params[k].grad();
      if (!grad.defined()) continue;
      auto& b = buckets[{params[k].device().str(), static_cast<int>(params[k].scalar_type())}];
      b.params.push_back(params[k]);
      b.grads.push_back(grad);
      b.expAvg.push_back(expAvg[k]);
      b.expAvgSq.push_back(expAvgSq[k]);
      b.steps.push_back(steps[k]);
    }
    for (auto& [key, b] : buckets) {
      if (!skip) {
        at::_foreach_add_(b.steps, 1);
        at::_fused_adamw_(b.params, b.grads, b.expAvg, b.expAvgSq, {}, b.steps, lr, beta1, beta2, wd, eps, false, maximize);
        continue;
      }
      const at::Tensor found = skip->reshape({}).ne(0).to(b.params[0].device(), at::kFloat);  // exactly 0 or 1
      at::_foreach_add_(b.steps, found.neg().add(1));  // a skipped step does not count
      at::_fused_adamw_(b.params, b.grads, b.expAvg, b.expAvgSq, {}, b.steps, lr, beta1, beta2, wd, eps, false, maximize, std::nullopt, found);
    }
  }
  return a.env().Undefined();
}

// sgdStep(params, momentumBuffers | null, lr, momentum, dampening, weightDecay, nesterov, firstStep, skipIf?)
// As torch.optim.SGD (single-tensor path): buffers start as a copy of the first gradient.
// skipIf: as adamwStep's; this path reads it (one host read), returning whether it stepped.
FT_FN(sgdStep) {
  auto params = a.tensors(0);
  std::vector<at::Tensor> bufs;
  if (!a.missing(1)) bufs = a.tensors(1);
  const double lr = a.f64(2), momentum = a.f64(3), dampening = a.f64(4), wd = a.f64(5);
  const bool nesterov = a.flag(6), first = a.flag(7);
  if (momentum != 0 && bufs.size() != params.size()) throw ft::ArgError("momentum buffers and params differ in length");
  const auto skip = a.optTensor(8);
  if (skip && skip->numel() != 1) throw ft::ArgError("skipIf: expected a one-element tensor");
  if (skip && skip->item<double>() != 0) return Napi::Boolean::New(a.env(), false);
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < params.size(); ++k) {
    auto& p = params[k];
    at::Tensor d = p.grad();
    if (!d.defined()) continue;
    if (wd != 0) d = d.add(p, wd);
    if (momentum != 0) {
      auto& buf = bufs[k];
      if (first) buf.copy_(d);
      else buf.mul_(momentum).add_(d, 1 - dampening);
      d = nesterov ? d.add(buf, momentum) : buf;
    }
    p.add_(d, -lr);
  }
  return Napi::Boolean::New(a.env(), true);
}

// clipGradNorm(params, maxNorm, normType) -> total norm before clipping (a 0-dim tensor on the
// gradients' device, not read here), as torch.nn.utils.clip_grad_norm_.
FT_FN(clipGradNorm) {
  auto params = a.tensors(0);
  const double maxNorm = a.f64(1), normType = a.f64(2);
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  for (auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return ft::ret(a.env(), at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(params.empty() ? at::Device(at::kCPU) : params[0].device())));
  const auto device = grads[0].device();
  std::vector<at::Tensor> norms;
  for (auto& n : at::_foreach_norm(grads, normType)) norms.push_back(n.to(device));
  at::Tensor total = at::linalg_vector_norm(at::stack(norms), normType);
  at::Tensor coef = at::clamp(maxNorm / (total + 1e-6), std::nullopt, 1.0);
  std::map<std::string, at::Tensor> coefOn;
  std::map<std::string, std::vector<at::Tensor>> byDevice;
  for (auto& g : grads) byDevice[g.device().str()].push_back(g);
  for (auto& [dev, gs] : byDevice) at::_foreach_mul_(gs, coef.to(gs[0].device()));
  return ft::ret(a.env(), total);
}

// zeroGrad(params, setToNone)
FT_FN(zeroGrad) {
  auto params = a.tensors(0);
  const bool toNone = a.missing(1) ? true : a.flag(1);
  for (auto& p : params) {
    if (!p.grad().defined()) continue;
    if (toNone) p.mutable_grad() = at::Tensor();
    else p.mutable_grad().zero_();
  }
  return a.env().Undefined();
}
