// Neural-network kernels: activations, normalisation, attention, losses.
#include "core.h"

using ft::Args;

namespace {
int64_t reduction(const Args& a, size_t i) {
  const std::string r = a.str(i);
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throw ft::ArgError("argument " + std::to_string(i) + ": reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}
}  // namespace

FT_FN(softmax) { return ft::ret(a.env(), at::softmax(a.tensor(0), a.i64(1))); }
FT_FN(logSoftmax) { return ft::ret(a.env(), at::log_softmax(a.tensor(0), a.i64(1))); }

// layerNorm(x, normalizedShape, weight?, bias?, eps)
FT_FN(layerNorm) {
  return ft::ret(a.env(), at::layer_norm(a.tensor(0), a.ints(1), a.optTensor(2), a.optTensor(3), a.f64(4)));
}

// dropout(x, p, train): identity when !train, as torch.nn.functional.dropout.
FT_FN(dropout) { return ft::ret(a.env(), ft::exactDropout(a.tensor(0), a.f64(1), a.flag(2))); }

// embedding(weight, indices, paddingIdx): rows of weight; paddingIdx (-1: none) gets no gradient.
FT_FN(embedding) { return ft::ret(a.env(), at::embedding(a.tensor(0), a.tensor(1), a.i64(2))); }

// scaledDotProductAttention(q, k, v, mask?, dropoutP, isCausal, scale?, enableGqa?)
// q (B, H, Tq, D), k/v (B, Hkv, Tk, D) with H a multiple of Hkv when enableGqa (grouped-query
// attention without repeating keys); mask bool (true = attend) or additive float,
// broadcastable to (B, H, Tq, Tk).
FT_FN(scaledDotProductAttention) {
  const bool gqa = !a.missing(7) && a.flag(7);
  return ft::ret(a.env(), ft::exactAttention(a.tensor(0), a.tensor(1), a.tensor(2), a.optTensor(3), a.f64(4),
                                                           a.flag(5), a.optF64(6), gqa));
}

// crossEntropy(logits, target, weight?, reduction, ignoreIndex, labelSmoothing)
FT_FN(crossEntropy) {
  return ft::ret(a.env(), at::cross_entropy_loss(a.tensor(0), a.tensor(1), a.optTensor(2), reduction(a, 3), a.i64(4), a.f64(5)));
}
FT_FN(mseLoss) { return ft::ret(a.env(), at::mse_loss(a.tensor(0), a.tensor(1), reduction(a, 2))); }
// bceWithLogits(x, target, weight?, posWeight?, reduction)
FT_FN(bceWithLogits) {
  return ft::ret(a.env(), at::binary_cross_entropy_with_logits(a.tensor(0), a.tensor(1), a.optTensor(2), a.optTensor(3),
                                                               reduction(a, 4)));
}
