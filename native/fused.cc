// Fused layers: the several ATen ops of a layer in one call from JS, composed exactly as
// transformers writes them (the same kernels, in the same order, so numerics are unchanged and
// autograd differentiates them as usual). What they save is the JS <-> native crossings of a
// decode step, where the tensors are tiny and the crossings dominate.
#include "core.h"
#include "decode_matmul.h"

using ft::Args;

// rmsNorm(x, weight, eps): transformers' LlamaRMSNorm:
// weight * (x.float() * rsqrt(mean(x.float()^2, -1) + eps)).to(x.dtype)
FT_FN(rmsNorm) {
  const auto& x = a.tensor(0);
  const auto& w = a.tensor(1);
  const double eps = a.f64(2);
  if (x.dim() == 0 || x.size(-1) != w.numel()) throw ft::ArgError("the weight must have the size of x's last dimension");
  const auto h = x.to(at::kFloat);
  const auto y = h * at::rsqrt(h.pow(2).mean(-1, true) + eps);
  return ft::ret(a.env(), w * y.to(x.scalar_type()));
}

// applyRotary(x, cos, sin): transformers' apply_rotary_pos_emb for one of q or k:
// x (B, H, T, D), cos and sin (B or 1, T, D): x * cos + rotate_half(x) * sin, with
// rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]).
FT_FN(applyRotary) {
  const auto& x = a.tensor(0);
  if (x.dim() != 4) throw ft::ArgError("x must be (B, H, T, D)");
  const int64_t d = x.size(-1);
  if (d % 2 != 0) throw ft::ArgError("the head dimension must be even");
  const auto c = a.tensor(1).unsqueeze(1);
  const auto s = a.tensor(2).unsqueeze(1);
  const auto rot = at::cat({-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)}, -1);
  return ft::ret(a.env(), x * c + rot * s);
}

// linearInOut(x, weight, bias): y = bias + x @ weight for a weight stored (in, out), as
// transformers' Conv1D computes it: one addmm over the rows of x flattened to (N, in), then
// viewed back to (..., out). (x @ weight^T through linear() would transpose the weight.)
FT_FN(linearInOut) {
  const auto& x = a.tensor(0);
  const auto& w = a.tensor(1);
  const auto& b = a.tensor(2);
  if (w.dim() != 2 || x.dim() == 0 || x.size(-1) != w.size(0) || b.numel() != w.size(1)) {
    throw ft::ArgError("x (..., in), weight (in, out) and bias (out) do not fit");
  }
  if (auto y = ft::decodeMatmul(x, w, b, true)) return ft::ret(a.env(), std::move(*y));
  auto size = x.sizes().vec();
  size.back() = w.size(1);
  return ft::ret(a.env(), at::addmm(b, x.reshape({-1, x.size(-1)}), w).view(size));
}
