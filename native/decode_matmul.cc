// Matrix products with a handful of rows, as in a decode step (batch x 1 new token), on the CPU
// in float32. Such a product streams the weight once: it is bound by memory bandwidth, and MKL's
// sgemm reaches well under half of it for these shapes (about 10 GB/s of the 30 measured on this
// project's CPUs). These kernels read each weight row once, contiguously, with AVX2 FMA register
// blocking, at close to the bandwidth. They serve `linear` (weight (out, in)) and `linearInOut`
// (Conv1D's (in, out)) only where neither autograd nor autocast is involved; their summation order
// differs from MKL's (round-off only). Every other product, and any CPU without AVX2 and FMA,
// takes libtorch's path. setDecodeMatmul(false) turns them off (bitwise PyTorch's products).
//
// Their parallel loops are at::parallel_for, which libtorch's OpenMP build inlines here: the addon
// is compiled with -fopenmp (scripts/locate-libtorch.js) and shares libtorch's libgomp.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>

#include <atomic>

#include "core.h"
#include "decode_matmul.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FT_DECODE_KERNELS 1
#include <immintrin.h>
#endif

namespace {

std::atomic<bool> enabled{true};

#ifdef FT_DECODE_KERNELS
#define FT_AVX2 __attribute__((target("avx2,fma")))

bool cpuHasKernels() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

// y (R rows, columns [j0, j1) in blocks of 16) += x (R, k0..k1) @ w (in, out) rows k0..k1. The
// first k-block starts from the bias (or zero); later ones add to y. Blocks of 8 weight rows keep
// 8 contiguous streams in flight while each row's part of y stays in registers.
template <int R>
FT_AVX2 void inOutRows(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t n, int64_t j0, int64_t j1, int64_t k0, int64_t k1) {
  for (int64_t j = j0; j < j1; j += 16) {
    __m256 acc[R][2];
    for (int r = 0; r < R; r++) {
      if (k0 > 0) {
        acc[r][0] = _mm256_loadu_ps(y + r * n + j);
        acc[r][1] = _mm256_loadu_ps(y + r * n + j + 8);
      } else if (bias) {
        acc[r][0] = _mm256_loadu_ps(bias + j);
        acc[r][1] = _mm256_loadu_ps(bias + j + 8);
      } else {
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
      }
    }
    for (int64_t k = k0; k < k1; k++) {
      const float* wk = w + k * n + j;
      const __m256 w0 = _mm256_loadu_ps(wk);
      const __m256 w1 = _mm256_loadu_ps(wk + 8);
      for (int r = 0; r < R; r++) {
        const __m256 xv = _mm256_set1_ps(x[r * ldx + k]);
        acc[r][0] = _mm256_fmadd_ps(xv, w0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(xv, w1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; r++) {
      _mm256_storeu_ps(y + r * n + j, acc[r][0]);
      _mm256_storeu_ps(y + r * n + j + 8, acc[r][1]);
    }
  }
}

// y (m, n) = bias + x (m, k) @ w (k, n): each thread owns a range of 16-column blocks.
FT_AVX2 void inOut(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t k, int64_t n) {
  constexpr int64_t kBlock = 8;
  const int64_t blocks = n / 16;
  const int64_t grain = std::max<int64_t>(1, 32768 / (k * 16));  // small products stay on one thread
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    const int64_t j0 = b0 * 16, j1 = b1 * 16;
    for (int64_t k0 = 0; k0 < k; k0 += kBlock) {
      const int64_t k1 = std::min(k, k0 + kBlock);
      int64_t r = 0;
      for (; r + 4 <= m; r += 4) inOutRows<4>(x + r * k, k, w, bias, y + r * n, n, j0, j1, k0, k1);
      for (; r + 2 <= m; r += 2) inOutRows<2>(x + r * k, k, w, bias, y + r * n, n, j0, j1, k0, k1);
      for (; r < m; r++) inOutRows<1>(x + r * k, k, w, bias, y + r * n, n, j0, j1, k0, k1);
    }
  });
  for (int64_t r = 0; r < m; r++) {
    for (int64_t j = blocks * 16; j < n; j++) {
      float s = bias ? bias[j] : 0.f;
      for (int64_t i = 0; i < k; i++) s += x[r * k + i] * w[i * n + j];
      y[r * n + j] = s;
    }
  }
}

FT_AVX2 inline float horizontalSum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// y (R rows, columns j..j+3) = bias + dot products of x's rows with w's rows j..j+3 (w (out, in)).
template <int R>
FT_AVX2 void outInBlock(const float* x, const float* w, const float* bias, float* y, int64_t k, int64_t n, int64_t j) {
  __m256 acc[R][4];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < 4; c++) acc[r][c] = _mm256_setzero_ps();
  const float* w0 = w + j * k;
  const int64_t kv = k / 8 * 8;
  for (int64_t i = 0; i < kv; i += 8) {
    __m256 wv[4];
    for (int c = 0; c < 4; c++) wv[c] = _mm256_loadu_ps(w0 + c * k + i);
    for (int r = 0; r < R; r++) {
      const __m256 xv = _mm256_loadu_ps(x + r * k + i);
      for (int c = 0; c < 4; c++) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; r++) {
    for (int c = 0; c < 4; c++) {
      float s = horizontalSum(acc[r][c]);
      for (int64_t i = kv; i < k; i++) s += x[r * k + i] * w0[c * k + i];
      y[r * n + j + c] = (bias ? bias[j + c] : 0.f) + s;
    }
  }
}

// y (m, n) = bias + x (m, k) @ w^T, w (n, k): each thread owns a range of 4-row blocks of w.
FT_AVX2 void outIn(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t k, int64_t n) {
  const int64_t blocks = n / 4;
  const int64_t grain = std::max<int64_t>(1, 32768 / (k * 4));
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      int64_t r = 0;
      for (; r + 2 <= m; r += 2) outInBlock<2>(x + r * k, w, bias, y + r * n, k, n, b * 4);
      for (; r < m; r++) outInBlock<1>(x + r * k, w, bias, y + r * n, k, n, b * 4);
    }
  });
  for (int64_t r = 0; r < m; r++) {
    for (int64_t j = blocks * 4; j < n; j++) {
      float s = 0.f;
      for (int64_t i = 0; i < k; i++) s += x[r * k + i] * w[j * k + i];
      y[r * n + j] = (bias ? bias[j] : 0.f) + s;
    }
  }
}
#endif

}  // namespace

namespace ft {

std::optional<at::Tensor> decodeMatmul(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& bias, bool weightInOut) {
#ifdef FT_DECODE_KERNELS
  constexpr int64_t kMaxRows = 8;  // measured: from 16 rows on, MKL's blocked sgemm is faster
  if (!enabled.load(std::memory_order_relaxed) || !cpuHasKernels()) return std::nullopt;
  const auto f32 = at::kFloat;
  if (!x.device().is_cpu() || !w.device().is_cpu() || x.scalar_type() != f32 || w.scalar_type() != f32) return std::nullopt;
  if (x.layout() != at::kStrided || w.layout() != at::kStrided || x._is_zerotensor() || w._is_zerotensor()) return std::nullopt;
  if (w.dim() != 2 || !w.is_contiguous() || x.dim() == 0 || x.numel() == 0) return std::nullopt;
  const int64_t k = weightInOut ? w.size(0) : w.size(1);
  const int64_t n = weightInOut ? w.size(1) : w.size(0);
  if (x.size(-1) != k || k == 0) return std::nullopt;  // libtorch's own path reports the mismatch
  const int64_t m = x.numel() / k;
  if (m > kMaxRows) return std::nullopt;
  if (bias && (bias->layout() != at::kStrided || bias->_is_zerotensor() || !bias->device().is_cpu() || bias->scalar_type() != f32 || bias->dim() != 1 || bias->numel() != n || !bias->is_contiguous())) return std::nullopt;
  // what the dispatcher adds to at::linear must stay: autograd's graph, and autocast's bf16 casts
  if (c10::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (bias && bias->requires_grad()))) return std::nullopt;
  if (at::autocast::is_autocast_enabled(at::kCPU)) return std::nullopt;
  const auto xc = x.contiguous();
  auto size = x.sizes().vec();
  size.back() = n;
  auto y = at::empty(size, x.options());
  const float* b = bias ? bias->const_data_ptr<float>() : nullptr;
  (weightInOut ? inOut : outIn)(xc.const_data_ptr<float>(), w.const_data_ptr<float>(), b, y.mutable_data_ptr<float>(), m, k, n);
  return y;
#else
  (void)x, (void)w, (void)bias, (void)weightInOut;
  return std::nullopt;
#endif
}

}  // namespace ft

// setDecodeMatmul(enabled) -> the previous setting: turns the kernels above on (the default) or
// off for this process.
FT_FN(setDecodeMatmul) { return Napi::Boolean::New(a.env(), enabled.exchange(a.flag(0))); }

// decodeMatmulAvailable(): whether this build and CPU have the kernels (x86-64 with AVX2 and FMA).
FT_FN(decodeMatmulAvailable) {
#ifdef FT_DECODE_KERNELS
  return Napi::Boolean::New(a.env(), cpuHasKernels());
#else
  return Napi::Boolean::New(a.env(), false);
#endif
}
