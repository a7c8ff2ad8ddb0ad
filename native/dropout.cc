// A fused dropout for the CPU: each element's keep/drop comes from a counter-based hash of
// (seed, index), drawn in parallel, where libtorch's dropout draws mt19937 words (serially off
// Intel CPUs; exact_dropout.cc draws the same words faster for ft.dropout). The seed is drawn
// from libtorch's CPU generator, so runs stay seeded, checkpointable and deterministic whatever
// the thread split. The masks differ from torch.nn.functional.dropout's (ft.dropout keeps
// libtorch's for exact parity); the distribution is the same. On CUDA it is native_dropout.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <mutex>

#include "core.h"

using ft::Args;

namespace {

// murmur3's 32-bit finaliser: 32-bit multiplies, so the loops below vectorise.
inline uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

// Keep flags of the indices [first, first + count) of one block of 2^32 into m[0, count):
// keep = mix32(mix32(k * golden ^ seedLo) + seedHi) >= p * 2^32. Built for AVX2 and for the
// baseline; the loader picks what the CPU has.
__attribute__((target_clones("avx2", "default"))) void maskLoop(uint8_t* m, uint32_t first, int64_t count, uint32_t seedLo, uint32_t seedHi,
                                                                 uint32_t threshold) {
  for (int64_t j = 0; j < count; ++j) {
    const uint32_t k = first + static_cast<uint32_t>(j);
    m[j] = mix32(mix32(k * 0x9e3779b1U ^ seedLo) + seedHi) >= threshold;
  }
}

// Keep flags of the indices [begin, end) into m[0, end - begin). The hash sees 32 bits of the
// index, so each block of 2^32 elements XORs mix32(block) into seedLo (0 for block 0): without
// it a tensor of more than 2^32 elements would repeat its mask every 2^32 elements.
void maskRange(uint8_t* m, int64_t begin, int64_t end, uint64_t seed, uint32_t threshold) {
  while (begin < end) {
    const int64_t block = begin >> 32;
    const int64_t stop = std::min(end, (block + 1) << 32);
    maskLoop(m, static_cast<uint32_t>(begin), stop - begin, static_cast<uint32_t>(seed) ^ mix32(static_cast<uint32_t>(block)),
             static_cast<uint32_t>(seed >> 32), threshold);
    m += stop - begin;
    begin = stop;
  }
}

// o = in * (kept ? scale : 0), computed in the dtype's math type (float for the 16-bit types,
// double for double, so float64 keeps its precision).
template <typename T>
__attribute__((target_clones("avx2", "default"))) void applyLoop(T* o, const T* in, const uint8_t* m, int64_t count, at::opmath_type<T> scale) {
  using acc_t = at::opmath_type<T>;
  for (int64_t k = 0; k < count; ++k) o[k] = static_cast<T>(static_cast<acc_t>(in[k]) * (m[k] ? scale : acc_t(0)));
}

uint32_t thresholdOf(double p) { return static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0)); }

// out = in * (kept ? scale : 0) and its gradient g * (kept ? scale : 0), from a byte mask: the
// one autograd function of both dropouts here (the fused one's hashed mask, exact_dropout.cc's
// libtorch mask). The product is the dtype's multiply (in its math type), so with libtorch's
// scale it is bit for bit libtorch's input * noise; the saved mask is a byte per element where
// libtorch saves the noise in the dtype.
struct MaskedScale : public torch::autograd::Function<MaskedScale> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& mask, double scale) {
    ctx->save_for_backward({mask});
    ctx->saved_data["scale"] = scale;
    return scaleBy(input.contiguous(), mask, scale);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const at::Tensor mask = ctx->get_saved_variables()[0];
    // through the function itself, so that the gradient is differentiable again (as mul's is)
    return {MaskedScale::apply(grads[0], mask, ctx->saved_data["scale"].toDouble()), at::Tensor(), at::Tensor()};
  }

  static at::Tensor scaleBy(const at::Tensor& x, const at::Tensor& mask, double scale) {
    at::Tensor out = at::empty_like(x);
    const uint8_t* m = mask.const_data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "masked_scale", [&] {
      const scalar_t* in = x.const_data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      at::parallel_for(0, x.numel(), 32768, [&](int64_t begin, int64_t end) {
        applyLoop<scalar_t>(o + begin, in + begin, m + begin, end - begin, static_cast<at::opmath_type<scalar_t>>(scale));
      });
    });
    return out;
  }
};

at::Tensor fusedDropout(const at::Tensor& input, double p, int64_t seed) {
  at::Tensor mask = at::empty(input.sizes(), input.options().dtype(at::kByte));
  uint8_t* m = mask.data_ptr<uint8_t>();
  const auto useed = static_cast<uint64_t>(seed);
  const uint32_t threshold = thresholdOf(p);
  at::parallel_for(0, input.numel(), 32768, [&](int64_t begin, int64_t end) { maskRange(m + begin, begin, end, useed, threshold); });
  return MaskedScale::apply(input, mask, 1.0 / (1.0 - p));
}

int64_t drawSeed() {
  auto gen = at::globalContext().defaultGenerator(at::kCPU);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return static_cast<int64_t>(at::check_generator<at::CPUGeneratorImpl>(gen)->random64());
}

}  // namespace

namespace ft {
at::Tensor maskedScale(const at::Tensor& x, const at::Tensor& mask, double scale) { return MaskedScale::apply(x, mask, scale); }
}  // namespace ft

// fusedDropout(x, p, train): as dropout, through the fused kernel on the CPU.
FT_FN(fusedDropout) {
  const auto& x = a.tensor(0);
  const double p = a.f64(1);
  if (!(p >= 0 && p <= 1)) throw ft::ArgError("argument 1: p must be in [0, 1]");
  if (!a.flag(2) || p == 0) return ft::ret(a.env(), at::dropout(x, 0.0, false));
  if (p == 1) return ft::ret(a.env(), x.mul(0));
  if (!x.device().is_cpu()) return ft::ret(a.env(), std::get<0>(at::native_dropout(x, p, true)));
  return ft::ret(a.env(), fusedDropout(x, p, drawSeed()));
}

// fusedDropoutMask(seedLo, seedHi, p, first, count): the keep flags (uint8) the fused kernel
// draws for elements first .. first + count - 1 of a tensor under the 64-bit seed
// seedHi * 2^32 + seedLo, through the same code. For tests: a mask's statistics for any seed
// and beyond 2^32 elements, without a tensor that large.
FT_FN(fusedDropoutMask) {
  const auto word = [&](size_t i) {
    const int64_t v = a.i64(i);
    if (v < 0 || v > 0xffffffffLL) throw ft::ArgError("argument " + std::to_string(i) + ": expected an integer in [0, 2^32)");
    return static_cast<uint64_t>(v);
  };
  const uint64_t seed = (word(1) << 32) | word(0);
  const double p = a.f64(2);
  if (!(p >= 0 && p <= 1)) throw ft::ArgError("argument 2: p must be in [0, 1]");
  const int64_t first = a.i64(3);
  const int64_t count = a.i64(4);
  if (first < 0) throw ft::ArgError("argument 3: expected a non-negative index");
  if (count < 0 || count > (int64_t{1} << 30)) throw ft::ArgError("argument 4: expected a count in [0, 2^30]");
  at::Tensor mask = at::empty({count}, at::kByte);
  uint8_t* m = mask.data_ptr<uint8_t>();
  at::parallel_for(0, count, 32768, [&](int64_t b, int64_t e) { maskRange(m + b, first + b, first + e, seed, thresholdOf(p)); });
  return ft::ret(a.env(), mask);
}
