// A padded batch's real tokens as rows: the layout transformers' unpadded attention paths use
// (_upad_input). Per-token layers (linear, LayerNorm, activations, dropout) then run on the N
// real tokens instead of all B x T positions; attention pads them back for its product.
#include "core.h"

using ft::Args;

// tokenRows(mask (B, T)) -> [index (N) int64, first (B) int64] | undefined: the flat positions
// b * T + t of the real tokens, in order, and where each row's first token lands among them.
// Undefined when nothing is padded (no rows to save) or when a row's first position is padding
// (left padding: a first-token reader would read a padded position).
FT_FN(tokenRows) {
  const at::Tensor& mask = a.tensor(0);
  if (mask.dim() != 2) throw ft::ArgError("tokenRows: mask must be (B, T), got " + std::to_string(mask.dim()) + " dimensions");
  const at::Tensor real = mask.scalar_type() == at::kBool ? mask : mask.ne(0);  // (B, T)
  const at::Tensor counts = real.sum(1);                                        // (B) int64
  const at::Tensor stats = at::stack({counts.sum(), real.select(1, 0).all().to(at::kLong)}).cpu();
  const int64_t n = stats[0].item<int64_t>();
  if (n == real.numel() || stats[1].item<int64_t>() == 0) return a.env().Undefined();
  std::vector<at::Tensor> out{at::nonzero(real.reshape(-1)).view(-1), counts.cumsum(0).sub_(counts)};
  return ft::retList(a.env(), out);
}

// padRows(x (N, ...), index (N), total) -> (total, ...): x's rows at index, zeros elsewhere
// (index_copy into zeros; its gradient is the rows at index).
FT_FN(padRows) {
  const at::Tensor& x = a.tensor(0);
  const int64_t total = a.i64(2);
  if (x.dim() < 1) throw ft::ArgError("padRows: x must have a row dimension");
  if (a.tensor(1).scalar_type() != at::kLong || a.tensor(1).device() != x.device()) throw ft::ArgError("padRows: index must be int64 on x's device");
  if (total < x.size(0)) throw ft::ArgError("padRows: total " + std::to_string(total) + " is below the " + std::to_string(x.size(0)) + " rows given");
  std::vector<int64_t> shape = x.sizes().vec();
  shape[0] = total;
  return ft::ret(a.env(), at::zeros(shape, x.options()).index_copy(0, a.tensor(1), x));
}
