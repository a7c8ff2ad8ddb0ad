// Elementwise arithmetic, comparisons, matrix products and reductions.
#include "core.h"
#include "decode_matmul.h"

using ft::Args;

#define FT_BINARY(name, expr)                                   \
  FT_FN(name) {                                                 \
    const auto& x = a.tensor(0);                                \
    const auto& y = a.tensor(1);                                \
    return ft::ret(a.env(), expr);                              \
  }
#define FT_BINARY_SCALAR(name, expr)                            \
  FT_FN(name) {                                                 \
    const auto& x = a.tensor(0);                                \
    const auto s = a.scalar(1);                                 \
    return ft::ret(a.env(), expr);                              \
  }
#define FT_UNARY(name, expr)                                    \
  FT_FN(name) {                                                 \
    const auto& x = a.tensor(0);                                \
    return ft::ret(a.env(), expr);                              \
  }

FT_BINARY(add, at::add(x, y))
FT_BINARY(sub, at::sub(x, y))
FT_BINARY(mul, at::mul(x, y))
FT_BINARY(div, at::div(x, y))
FT_BINARY(pow, at::pow(x, y))
FT_BINARY(maximum, at::maximum(x, y))
FT_BINARY(minimum, at::minimum(x, y))
FT_BINARY(eq, at::eq(x, y))
FT_BINARY(ne, at::ne(x, y))
FT_BINARY(lt, at::lt(x, y))
FT_BINARY(le, at::le(x, y))
FT_BINARY(gt, at::gt(x, y))
FT_BINARY(ge, at::ge(x, y))
FT_BINARY(logicalAnd, at::logical_and(x, y))
FT_BINARY(logicalOr, at::logical_or(x, y))
FT_BINARY(matmul, at::matmul(x, y))
FT_BINARY(bmm, at::bmm(x, y))

FT_BINARY_SCALAR(addScalar, at::add(x, s))
FT_BINARY_SCALAR(subScalar, at::sub(x, s))
FT_BINARY_SCALAR(rsubScalar, at::rsub(x, s))  // s - x
FT_BINARY_SCALAR(mulScalar, at::mul(x, s))
FT_BINARY_SCALAR(divScalar, at::div(x, s))
FT_BINARY_SCALAR(rdivScalar, at::mul(at::reciprocal(x), s))  // s / x
FT_BINARY_SCALAR(powScalar, at::pow(x, s))
FT_BINARY_SCALAR(eqScalar, at::eq(x, s))
FT_BINARY_SCALAR(neScalar, at::ne(x, s))
FT_BINARY_SCALAR(ltScalar, at::lt(x, s))
FT_BINARY_SCALAR(leScalar, at::le(x, s))
FT_BINARY_SCALAR(gtScalar, at::gt(x, s))
FT_BINARY_SCALAR(geScalar, at::ge(x, s))

FT_UNARY(neg, at::neg(x))
FT_UNARY(exp, at::exp(x))
FT_UNARY(log, at::log(x))
FT_UNARY(sqrt, at::sqrt(x))
FT_UNARY(rsqrt, at::rsqrt(x))
FT_UNARY(abs, at::abs(x))
FT_UNARY(sign, at::sign(x))
FT_UNARY(ceil, at::ceil(x))
FT_UNARY(sigmoid, at::sigmoid(x))
FT_UNARY(tanh, at::tanh(x))
FT_UNARY(relu, at::relu(x))
FT_UNARY(silu, at::silu(x))
FT_UNARY(erf, at::erf(x))
FT_UNARY(square, at::square(x))
FT_UNARY(reciprocal, at::reciprocal(x))
FT_UNARY(logicalNot, at::logical_not(x))
FT_UNARY(isfinite, at::isfinite(x))

// gelu(x, approximate): "none" (exact erf) or "tanh".
FT_FN(gelu) { return ft::ret(a.env(), at::gelu(a.tensor(0), a.str(1))); }

FT_FN(clamp) {
  const auto& x = a.tensor(0);
  std::optional<at::Scalar> lo, hi;
  if (!a.missing(1)) lo = a.scalar(1);
  if (!a.missing(2)) hi = a.scalar(2);
  return ft::ret(a.env(), at::clamp(x, lo, hi));
}

FT_FN(where) { return ft::ret(a.env(), at::where(a.tensor(0), a.tensor(1), a.tensor(2))); }
FT_FN(maskedFill) { return ft::ret(a.env(), at::masked_fill(a.tensor(0), a.tensor(1), a.scalar(2))); }

// linear(x, weight, bias?): x @ weight^T + bias, weight (out, in) as in torch.nn.Linear.
FT_FN(linear) {
  const auto& x = a.tensor(0);
  const auto& w = a.tensor(1);
  const auto b = a.optTensor(2);
  if (auto y = ft::decodeMatmul(x, w, b, false)) return ft::ret(a.env(), std::move(*y));
  return ft::ret(a.env(), at::linear(x, w, b));
}

// Reductions. dims null/undefined means all dimensions.
FT_FN(sum) {
  const auto& x = a.tensor(0);
  const auto dims = a.optInts(1);
  const bool keep = a.missing(2) ? false : a.flag(2);
  const auto dt = a.optDtype(3);
  if (!dims) return ft::ret(a.env(), at::sum(x, dt));
  return ft::ret(a.env(), at::sum(x, *dims, keep, dt));
}
FT_FN(mean) {
  const auto& x = a.tensor(0);
  const auto dims = a.optInts(1);
  const bool keep = a.missing(2) ? false : a.flag(2);
  if (!dims) return ft::ret(a.env(), at::mean(x));
  return ft::ret(a.env(), at::mean(x, *dims, keep));
}
FT_FN(maxAll) { return ft::ret(a.env(), at::max(a.tensor(0))); }
FT_FN(minAll) { return ft::ret(a.env(), at::min(a.tensor(0))); }
// maxDim(x, dim, keepdim) -> [values, indices]
FT_FN(maxDim) {
  auto [values, indices] = at::max(a.tensor(0), a.i64(1), a.flag(2));
  return ft::retList(a.env(), {values, indices});
}
FT_FN(minDim) {
  auto [values, indices] = at::min(a.tensor(0), a.i64(1), a.flag(2));
  return ft::retList(a.env(), {values, indices});
}
FT_FN(amax) { return ft::ret(a.env(), at::amax(a.tensor(0), a.ints(1), a.flag(2))); }
FT_FN(argmax) {
  std::optional<int64_t> dim;
  if (!a.missing(1)) dim = a.i64(1);
  return ft::ret(a.env(), at::argmax(a.tensor(0), dim, a.missing(2) ? false : a.flag(2)));
}
// norm(x, ord, dims?, keepdim): the vector norm of torch.linalg.vector_norm.
FT_FN(norm) {
  const auto dims = a.optInts(2);
  at::OptionalIntArrayRef d = dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef();
  return ft::ret(a.env(), at::linalg_vector_norm(a.tensor(0), a.f64(1), d, a.missing(3) ? false : a.flag(3)));
}

// Rotary position embeddings need the angles' sines and cosines computed as torch does (float32).
FT_UNARY(sin, at::sin(x))
FT_UNARY(cos, at::cos(x))
// cumsum(x, dim): running sums (position ids from a padding mask, nucleus sampling).
FT_FN(cumsum) { return ft::ret(a.env(), at::cumsum(a.tensor(0), a.i64(1))); }
