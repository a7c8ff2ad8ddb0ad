// Selection and sampling for generation: top-k, sort, and draws from categorical distributions.
#include "core.h"

using ft::Args;

// topk(x, k, dim, largest) -> [values, indices], sorted.
FT_FN(topk) {
  const auto& x = a.tensor(0);
  const int64_t k = a.i64(1);
  const int64_t dim = a.i64(2);
  if (x.dim() == 0) throw ft::ArgError("topk of a 0-dimensional tensor");
  const int64_t size = x.size(dim < 0 ? dim + x.dim() : dim);
  if (k < 0 || k > size) throw ft::ArgError("k must be in [0, " + std::to_string(size) + "], got " + std::to_string(k));
  auto [values, indices] = at::topk(x, k, dim, a.flag(3), true);
  return ft::retList(a.env(), {values, indices});
}

// sort(x, dim, descending) -> [values, indices]; stable, as torch.sort(stable=True).
FT_FN(sort) {
  auto [values, indices] = at::sort(a.tensor(0), true, a.i64(1), a.flag(2));
  return ft::retList(a.env(), {values, indices});
}

// multinomial(probs, numSamples, replacement): rows of probs (non-negative, not all zero) are
// distributions; draws come from the default generator (manualSeed).
FT_FN(multinomial) { return ft::ret(a.env(), at::multinomial(a.tensor(0), a.i64(1), a.flag(2))); }
