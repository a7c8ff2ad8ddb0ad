// A fused dropout for the CPU: each element's keep/drop comes from a counter-based hash of
// (seed, index) and writes both the output and a byte mask, where libtorch's dropout
// runs bernoulli_ (a slow per-element generator), then a multiply. The seed is drawn from
// libtorch's CPU generator, so runs stay seeded, checkpointable and deterministic whatever
// the thread split. The masks differ from torch.nn.functional.dropout's (ft.dropout keeps
// libtorch's for exact parity); the distribution is the same. On CUDA it is native_dropout.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <mutex>

#include "core.h"

using ft::Args;

namespace {

// murmur3's 32-bit finaliser over (index, seed): 32-bit multiplies, so the loops below
// vectorise; keep = hash >= p * 2^32.
inline uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

// Built for AVX2 and for the baseline; the loader picks what the CPU has.
__attribute__((target_clones("avx2", "default"))) void maskLoop(uint8_t* m, int64_t begin, int64_t end, uint32_t seedLo, uint32_t seedHi,
                                                                 uint32_t threshold) {
  for (int64_t k = begin; k < end; ++k) {
    const uint32_t h = mix32(mix32(static_cast<uint32_t>(k) * 0x9e3779b1U ^ seedLo) + seedHi);
    m[k] = h >= threshold;
  }
}

template <typename T>
__attribute__((target_clones("avx2", "default"))) void applyLoop(T* o, const T* in, const uint8_t* m, int64_t begin, int64_t end, float scale) {
  for (int64_t k = begin; k < end; ++k) o[k] = static_cast<T>(static_cast<float>(in[k]) * (m[k] ? scale : 0.0f));
}

struct FusedDropout : public torch::autograd::Function<FusedDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, double p, int64_t seed) {
    at::Tensor x = input.contiguous();
    at::Tensor out = at::empty_like(x);
    at::Tensor mask = at::empty(x.sizes(), x.options().dtype(at::kByte));
    const int64_t n = x.numel();
    const uint32_t threshold = static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
    const double scale = 1.0 / (1.0 - p);
    uint8_t* m = mask.data_ptr<uint8_t>();
    const auto useed = static_cast<uint64_t>(seed);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "fused_dropout", [&] {
      const scalar_t* in = x.const_data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
        maskLoop(m, begin, end, static_cast<uint32_t>(useed), static_cast<uint32_t>(useed >> 32), threshold);
        applyLoop<scalar_t>(o, in, m, begin, end, static_cast<float>(scale));
      });
    });
    ctx->save_for_backward({mask});
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const at::Tensor mask = ctx->get_saved_variables()[0];
    const double scale = ctx->saved_data["scale"].toDouble();
    at::Tensor g = grads[0].contiguous();
    at::Tensor out = at::empty_like(g);
    const uint8_t* m = mask.const_data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "fused_dropout_backward", [&] {
      const scalar_t* in = g.const_data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      at::parallel_for(0, g.numel(), 32768, [&](int64_t begin, int64_t end) { applyLoop<scalar_t>(o, in, m, begin, end, static_cast<float>(scale)); });
    });
    return {out, at::Tensor(), at::Tensor()};
  }
};

int64_t drawSeed() {
  auto gen = at::globalContext().defaultGenerator(at::kCPU);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return static_cast<int64_t>(at::check_generator<at::CPUGeneratorImpl>(gen)->random64());
}

}  // namespace

// fusedDropout(x, p, train): as dropout, through the fused kernel on the CPU.
FT_FN(fusedDropout) {
  const auto& x = a.tensor(0);
  const double p = a.f64(1);
  if (!(p >= 0 && p <= 1)) throw ft::ArgError("argument 1: p must be in [0, 1]");
  if (!a.flag(2) || p == 0) return ft::ret(a.env(), at::dropout(x, 0.0, false));
  if (p == 1) return ft::ret(a.env(), x.mul(0));
  if (!x.device().is_cpu()) return ft::ret(a.env(), std::get<0>(at::native_dropout(x, p, true)));
  return ft::ret(a.env(), FusedDropout::apply(x, p, drawSeed()));
}
