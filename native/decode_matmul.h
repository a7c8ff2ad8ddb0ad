// Few-row float32 matrix products on the CPU (decode steps): see decode_matmul.cc.
#pragma once
#include <ATen/ATen.h>

#include <optional>

namespace ft {
// y = bias + x @ w (weightInOut: w (in, out)) or bias + x @ w^T (w (out, in)), x (..., in), when
// the fast kernels apply (CPU, float32, at most 8 rows, no gradient recorded); otherwise nullopt
// and the caller takes libtorch's path.
std::optional<at::Tensor> decodeMatmul(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& bias, bool weightInOut);
}  // namespace ft
