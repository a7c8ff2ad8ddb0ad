// Views, layout, indexing and joining, dtype/device moves.
#include <cmath>

#include "core.h"

using ft::Args;

FT_FN(reshape) { return ft::ret(a.env(), at::reshape(a.tensor(0), a.ints(1))); }
FT_FN(view) { return ft::ret(a.env(), a.tensor(0).view(a.ints(1))); }
FT_FN(permute) { return ft::ret(a.env(), at::permute(a.tensor(0), a.ints(1))); }
FT_FN(transpose) { return ft::ret(a.env(), at::transpose(a.tensor(0), a.i64(1), a.i64(2))); }
FT_FN(contiguous) { return ft::ret(a.env(), a.tensor(0).contiguous()); }
FT_FN(expand) { return ft::ret(a.env(), a.tensor(0).expand(a.ints(1))); }
FT_FN(flatten) { return ft::ret(a.env(), at::flatten(a.tensor(0), a.i64(1), a.i64(2))); }
// asStrided(x, size, stride, offset): libtorch checks the view against the storage's bounds.
FT_FN(asStrided) { return ft::ret(a.env(), at::as_strided(a.tensor(0), a.ints(1), a.ints(2), a.i64(3))); }
FT_FN(narrow) { return ft::ret(a.env(), at::narrow(a.tensor(0), a.i64(1), a.i64(2), a.i64(3))); }
// slice(x, dim, start, end, step): Python's x[..., start:end:step, ...] on one dimension.
FT_FN(slice) {
  std::optional<int64_t> start, end;
  if (!a.missing(2)) start = a.i64(2);
  if (!a.missing(3)) end = a.i64(3);
  return ft::ret(a.env(), at::slice(a.tensor(0), a.i64(1), start, end, a.i64(4)));
}
FT_FN(select) { return ft::ret(a.env(), at::select(a.tensor(0), a.i64(1), a.i64(2))); }
FT_FN(indexSelect) { return ft::ret(a.env(), at::index_select(a.tensor(0), a.i64(1), a.tensor(2))); }
FT_FN(gather) { return ft::ret(a.env(), at::gather(a.tensor(0), a.i64(1), a.tensor(2))); }
FT_FN(cat) { return ft::ret(a.env(), at::cat(a.tensors(0), a.i64(1))); }
FT_FN(stack) { return ft::ret(a.env(), at::stack(a.tensors(0), a.i64(1))); }
// split(x, size | sizes, dim)
FT_FN(split) {
  const auto& x = a.tensor(0);
  const auto dim = a.i64(2);
  if (a.raw(1).IsArray()) return ft::retList(a.env(), at::split_with_sizes(x, a.ints(1), dim));
  return ft::retList(a.env(), at::split(x, a.i64(1), dim));
}
FT_FN(squeeze) {
  if (a.missing(1)) return ft::ret(a.env(), at::squeeze(a.tensor(0)));
  return ft::ret(a.env(), at::squeeze(a.tensor(0), a.i64(1)));
}
FT_FN(unsqueeze) { return ft::ret(a.env(), at::unsqueeze(a.tensor(0), a.i64(1))); }
FT_FN(toDtype) { return ft::ret(a.env(), a.tensor(0).to(a.dtype(1))); }
FT_FN(toDevice) { return ft::ret(a.env(), a.tensor(0).to(a.device(1))); }
FT_FN(clone) { return ft::ret(a.env(), a.tensor(0).clone()); }
FT_FN(detach) { return ft::ret(a.env(), a.tensor(0).detach()); }

// In-place initialisers and copies (under the caller's grad mode; used with noGrad for init and loading).
FT_FN(normal_) {
  a.tensor(0).normal_(a.f64(1), a.f64(2));
  return a.env().Undefined();
}
FT_FN(uniform_) {
  a.tensor(0).uniform_(a.f64(1), a.f64(2));
  return a.env().Undefined();
}
// random_(t): Tensor.random_(), integers over the dtype's range from the default generator.
FT_FN(random_) {
  a.tensor(0).random_();
  return a.env().Undefined();
}
// truncNormal_(t, mean, std, a, b): torch.nn.init.trunc_normal_ as torch 2.13 draws it, step for
// step, so that for the same generator state the values are PyTorch's: where the window holds
// more than 0.3 of the normal's mass, normal draws with rejected values redrawn (a whole new draw
// per round, as torch.where over a fresh normal_); otherwise uniform proposals in [a, b] accepted
// against the normal's density at its peak in the window.
FT_FN(truncNormal_) {
  const double mean = a.f64(1), std = a.f64(2), lo = a.f64(3), hi = a.f64(4);
  if (!(std > 0) || !(lo < hi)) throw ft::ArgError("expected std > 0 and a < b");
  at::Tensor t = a.tensor(0);
  const auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double mass = cdf((hi - mean) / std) - cdf((lo - mean) / std);
  if (mass > 0.3) {
    // the bounds in the tensor's dtype, so that the rejection agrees with representable values
    const double loT = at::scalar_tensor(lo, t.options().device(at::kCPU)).item<double>();
    const double hiT = at::scalar_tensor(hi, t.options().device(at::kCPU)).item<double>();
    at::Tensor result = t.normal_(mean, std);
    while (true) {
      const at::Tensor reject = result.lt(loT).logical_or(result.gt(hiT));
      if (!reject.any().item<bool>()) break;
      result = at::where(reject, at::empty_like(result).normal_(mean, std), result);
    }
    if (!result.is_same(t)) t.copy_(result);
  } else {
    const double mode = std::max(lo, std::min(mean, hi));
    const double logPeak = -0.5 * ((mode - mean) / std) * ((mode - mean) / std);
    at::Tensor candidates = at::empty_like(t);
    at::Tensor acceptBuf = at::empty_like(t);
    const auto logDensity = [&](at::Tensor& c) { c.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(logPeak); };
    t.uniform_(lo, hi);
    candidates.copy_(t);
    logDensity(candidates);
    at::Tensor pending = acceptBuf.uniform_().log_().gt(candidates);
    if (pending.any().item<bool>()) {
      at::Tensor result = t;
      while (true) {
        candidates.uniform_(lo, hi);
        result = at::where(pending, candidates, result);
        logDensity(candidates);
        pending = at::where(pending, acceptBuf.uniform_().log_().gt(candidates), pending);
        if (!pending.any().item<bool>()) break;
      }
      t.copy_(result);
    }
  }
  return a.env().Undefined();
}
FT_FN(zero_) {
  a.tensor(0).zero_();
  return a.env().Undefined();
}
FT_FN(fill_) {
  a.tensor(0).fill_(a.scalar(1));
  return a.env().Undefined();
}
FT_FN(copy_) {
  a.tensor(0).copy_(a.tensor(1));
  return a.env().Undefined();
}

// triu(x, diagonal) / tril(x, diagonal): the upper / lower triangle (causal and sliding-window masks).
FT_FN(triu) { return ft::ret(a.env(), at::triu(a.tensor(0), a.i64(1))); }
FT_FN(tril) { return ft::ret(a.env(), at::tril(a.tensor(0), a.i64(1))); }
// scatter(x, dim, index, src): a copy of x with src written at index along dim (out of place).
FT_FN(scatter) { return ft::ret(a.env(), at::scatter(a.tensor(0), a.i64(1), a.tensor(2), a.tensor(3))); }
