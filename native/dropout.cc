// A fused dropout for the CPU: one pass draws each element's keep/drop from a counter-based
// hash of (seed, index) and writes both the output and a byte mask, where libtorch's dropout
// runs bernoulli_ (a slow per-element generator), then a multiply. The seed is drawn from
// libtorch's CPU generator, so runs stay seeded, checkpointable and deterministic whatever
// the thread split. The masks differ from torch.nn.functional.dropout's (ft.dropout keeps
// libtorch's for exact parity); the distribution is the same. On CUDA it is native_dropout.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <mutex>

#include "core.h"

using ft::Args;

namespace {

inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct FusedDropout : public torch::autograd::Function<FusedDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, double p, int64_t seed) {
    at::Tensor x = input.contiguous();
    at::Tensor out = at::empty_like(x);
    at::Tensor mask = at::empty(x.sizes(), x.options().dtype(at::kByte));
    const int64_t n = x.numel();
    // keep when the top 32 bits of the hash are >= p * 2^32
    const uint64_t threshold = static_cast<uint64_t>(p * 4294967296.0);
    const double scale = 1.0 / (1.0 - p);
    uint8_t* m = mask.data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "fused_dropout", [&] {
      const scalar_t* in = x.const_data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      const scalar_t s = static_cast<scalar_t>(scale);
      at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) {
          const uint8_t keep = (splitmix64(static_cast<uint64_t>(seed) ^ (static_cast<uint64_t>(k) * 0xd1342543de82ef95ULL)) >> 32) >= threshold;
          m[k] = keep;
          o[k] = keep ? static_cast<scalar_t>(in[k] * s) : static_cast<scalar_t>(0);
        }
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
      const scalar_t s = static_cast<scalar_t>(scale);
      at::parallel_for(0, g.numel(), 32768, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) o[k] = m[k] ? static_cast<scalar_t>(in[k] * s) : static_cast<scalar_t>(0);
      });
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
