// torch.nn.functional.dropout on the CPU, bit for bit, without its slow draw. libtorch's CPU
// dropout is noise = bernoulli_(1 - p) (empty_like(input)), noise.div_(1 - p), input * noise.
// Where libtorch's bernoulli_ takes its portable path (on every CPU seen with torch 2.13, Intel's
// included; a build with MKL may draw with MKL on Intel CPUs), each element costs two serial calls of the mt19937 engine through a
// TensorIterator, about 8 ns an element: about 70 ms of the bench's BERT 4x256 training step
// (batch 16 x 128) on 2 cores.
// Here the same engine runs a block of 624 words at a time (the twist and tempering in
// vectorised loops), the same 53-bit uniform is compared with the same threshold, and the
// generator is left in the state libtorch would leave it in: the masks, the output and every
// later draw equal libtorch's. The scaled value (1 / (1 - p) in the dtype) comes from libtorch's
// own div_; the product x * (kept ? scale : 0) is the dtype's multiply, as at::mul computes
// it, forward and backward (maskedScale, dropout.cc), with a byte mask saved for the backward
// pass where libtorch saves the noise in the dtype (a quarter of the memory in float32).
//
// Whether libtorch's bernoulli_ here is the portable path is not assumed: a self-check per dtype
// (first use) runs at::dropout and this dropout from the same state of the default generator
// (saved and put back around the check), on inputs with NaN, infinities and signed zeros, and
// compares values and the engine state after; on a mismatch (an MKL draw, another libtorch)
// every call goes to at::dropout. Attention with dropout has the same check.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/MT19937RNGEngine.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <optional>
#include <mutex>
#include <utility>

#include "core.h"

using ft::Args;

namespace {

constexpr int kN = at::MERSENNE_STATE_N;  // 624
constexpr int kM = at::MERSENNE_STATE_M;  // 397

inline uint32_t twistWord(uint32_t u, uint32_t v) {
  return (((u & at::UMASK) | (v & at::LMASK)) >> 1) ^ ((v & 1U) ? at::MATRIX_A : 0U);
}

// at::mt19937_engine::next_state(): the same three loops, written so that they vectorise (the
// second loop reads words 227 behind the one it writes, already final).
__attribute__((target_clones("avx2", "default"))) void twistState(uint32_t* s) {
  for (int i = 0; i < kN - kM; ++i) s[i] = s[i + kM] ^ twistWord(s[i], s[i + 1]);
  for (int i = kN - kM; i < kN - 1; ++i) s[i] = s[i + kM - kN] ^ twistWord(s[i], s[i + 1]);
  s[kN - 1] = s[kM - 1] ^ twistWord(s[kN - 1], s[0]);
}

__attribute__((target_clones("avx2", "default"))) void temper(uint32_t* out, const uint32_t* s, int n) {
  for (int i = 0; i < n; ++i) {
    uint32_t y = s[i];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    out[i] = y;
  }
}

// `count` words, as `count` calls of at::mt19937::operator() return them, advancing `d` as
// those calls would: a call with left_ == 1 twists and reads word 0.
void drawWords(at::mt19937_data_pod& d, uint32_t* out, int64_t count) {
  while (count > 0) {
    if (d.left_ == 1) {
      twistState(d.state_.data());
      d.left_ = kN + 1;
      d.next_ = 0;
    }
    const int k = static_cast<int>(std::min<int64_t>(d.left_ - 1, count));
    temper(out, d.state_.data() + d.next_, k);
    d.next_ += static_cast<uint32_t>(k);
    d.left_ -= k;
    out += k;
    count -= k;
  }
}

// mask[i] = uniform53(word[2i] << 32 | word[2i + 1]) < q, as bernoulli_distribution<double>(q):
// the uniform is (bits & (2^53 - 1)) * 2^-53, so u < q exactly when the 53 bits are below
// ceil(q * 2^53).
__attribute__((target_clones("avx2", "default"))) void maskLoop(uint8_t* mask, const uint32_t* w, int64_t n, uint64_t threshold) {
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t bits = ((static_cast<uint64_t>(w[2 * i]) << 32) | w[2 * i + 1]) & ((uint64_t{1} << 53) - 1);
    mask[i] = bits < threshold;
  }
}

uint64_t thresholdOf(double q) { return static_cast<uint64_t>(std::ceil(q * 9007199254740992.0)); }  // q * 2^53

// libtorch's noise value 1 / (1 - p) in the dtype (a one-element noise of 1 through the div_
// dropout uses), as a double that holds it exactly.
double scaleOf(double q, at::ScalarType dtype) {
  thread_local double lastQ = -1, lastScale = 0;  // a model's dropouts share a few p: skip the ops
  thread_local at::ScalarType lastType = at::ScalarType::Undefined;
  if (q != lastQ || dtype != lastType) {
    lastScale = at::ones({1}, at::TensorOptions().dtype(dtype)).div_(q).to(at::kDouble).item<double>();
    lastQ = q;
    lastType = dtype;
  }
  return lastScale;
}

// The keep flags of bernoulli_(q) on n elements from `gen` (locked by the caller), advancing it
// as libtorch's draw would.
at::Tensor drawMask(int64_t n, double q, at::CPUGeneratorImpl* gen) {
  at::Tensor mask = at::empty({n}, at::kByte);
  uint8_t* m = mask.data_ptr<uint8_t>();
  at::mt19937 engine = gen->engine();
  at::mt19937_data_pod d = engine.data();
  const uint64_t threshold = thresholdOf(q);
  constexpr int64_t kChunk = 2048;  // elements per batch of words: 16 KiB of words stay in L1
  uint32_t words[2 * kChunk];
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t k = std::min(kChunk, n - i);
    drawWords(d, words, 2 * k);
    maskLoop(m + i, words, k, threshold);
  }
  engine.set_data(d);
  gen->set_engine(engine);
  return mask;
}

// x * noise with libtorch's noise for keep probability q (dropout 1 - q), drawn from `gen`
// (null: the default generator, locked here).
at::Tensor dropWith(const at::Tensor& x, double q, at::CPUGeneratorImpl* gen) {
  at::Tensor mask;
  if (gen != nullptr) {
    mask = drawMask(x.numel(), q, gen);
  } else {
    auto def = at::globalContext().defaultGenerator(at::kCPU);
    std::lock_guard<std::mutex> lock(def.mutex());
    mask = drawMask(x.numel(), q, at::check_generator<at::CPUGeneratorImpl>(def));
  }
  return ft::maskedScale(x, mask, scaleOf(q, x.scalar_type()));
}

// The default CPU generator's engine, read or replaced under its lock.
at::mt19937 defaultEngine() {
  auto gen = at::globalContext().defaultGenerator(at::kCPU);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->engine();
}
void setDefaultEngine(const at::mt19937& e) {
  auto gen = at::globalContext().defaultGenerator(at::kCPU);
  std::lock_guard<std::mutex> lock(gen.mutex());
  at::check_generator<at::CPUGeneratorImpl>(gen)->set_engine(e);
}
bool sameEngine(const at::mt19937_data_pod& a, const at::mt19937_data_pod& b) { return a.left_ == b.left_ && a.next_ == b.next_ && a.state_ == b.state_; }

// The self-checks run libtorch's own ops, which draw from the default generator: each runs from
// a fixed engine state, and this guard puts the caller's state back however the check ends.
// One check at a time (checkMutex), so two threads cannot restore each other's states.
struct EngineRestorer {
  at::mt19937 saved = defaultEngine();
  ~EngineRestorer() { setDefaultEngine(saved); }
};
std::recursive_mutex checkMutex;

// Equal values, zeros' signs included; NaN equals NaN (libtorch's vectorised and scalar
// conversions to 16-bit floats write different NaN payloads).
bool sameValues(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const at::Tensor x = a.to(at::kDouble), y = b.to(at::kDouble);
  return (x.eq(y).logical_and(x.signbit().eq(y.signbit()))).logical_or(x.isnan().logical_and(y.isnan())).all().item<bool>();
}

// An input with every special value: NaN, both infinities, both zeros.
at::Tensor checkInput(int64_t n, at::ScalarType dtype) {
  at::Generator g = at::detail::createCPUGenerator(20261130 + n);
  at::Tensor x = at::randn({n}, g, at::TensorOptions().dtype(dtype));
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), 0.0, -0.0};
  for (int64_t i = 0; i < std::min<int64_t>(n, 5); ++i) x[i * (n / 5)].fill_(specials[i]);
  return x;
}

// A self-check's verdict, run once: 0 unchecked, 1 equal to libtorch, 2 not (use libtorch).
// After the first call it costs one atomic load.
template <typename Check>
bool verdictOf(std::atomic<int>& v, Check check) {
  if (int state = v.load(); state != 0) return state == 1;
  std::lock_guard<std::recursive_mutex> lock(checkMutex);
  if (int state = v.load(); state != 0) return state == 1;
  bool same;
  {
    EngineRestorer restore;
    same = check();
  }
  v.store(same ? 1 : 2);
  return same;
}

// Per dtype: whether this dropout equals at::dropout.
std::atomic<int> verdicts[static_cast<int>(at::ScalarType::NumOptions)];

bool matchesLibtorch(at::ScalarType dtype) {
  return verdictOf(verdicts[static_cast<int>(dtype)], [dtype] {
    bool same = true;
    // sizes across chunk and twist boundaries, one element, and a p whose threshold is not round
    for (const auto& [n, p] : {std::pair<int64_t, double>{5003, 0.1}, {1, 0.5}, {4097, 0.1234568}}) {
      at::Generator start = at::detail::createCPUGenerator(7 + n);
      at::check_generator<at::CPUGeneratorImpl>(start)->random();  // mid-block
      const at::mt19937 from = at::check_generator<at::CPUGeneratorImpl>(start)->engine();
      const at::Tensor x = checkInput(n, dtype);
      setDefaultEngine(from);
      const at::Tensor ref = at::dropout(x, p, true);
      const auto afterRef = defaultEngine().data();
      setDefaultEngine(from);
      const at::Tensor mine = dropWith(x, 1 - p, nullptr);
      same = same && sameValues(ref, mine) && sameEngine(afterRef, defaultEngine().data());
    }
    return same;
  });
}

std::optional<at::Tensor> additiveMask(const std::optional<at::Tensor>& mask, at::ScalarType dtype) {
  if (!mask.has_value() || mask->scalar_type() != at::kBool) return mask;
  // what scaled_dot_product_attention does to a boolean mask (convert_boolean_attn_mask)
  return at::zeros_like(*mask, mask->options().dtype(dtype)).masked_fill_(mask->logical_not(), -std::numeric_limits<double>::infinity());
}

at::Tensor composedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask, double p,
                             bool causal, std::optional<double> scale);

// Per dtype, as verdicts: whether composedAttention equals scaled_dot_product_attention with
// dropout, output and generator state, from the same generator state.
std::atomic<int> attentionVerdicts[static_cast<int>(at::ScalarType::NumOptions)];

bool attentionMatches(at::ScalarType dtype) {
  return verdictOf(attentionVerdicts[static_cast<int>(dtype)], [dtype] {
    bool same = true;
    const at::mt19937 from = at::check_generator<at::CPUGeneratorImpl>(at::detail::createCPUGenerator(5))->engine();
    const auto o = at::TensorOptions().dtype(dtype);
    at::Generator g = at::detail::createCPUGenerator(7);
    const at::Tensor q = at::randn({2, 3, 37, 16}, g, o);
    const at::Tensor k = at::randn({2, 3, 41, 16}, g, o);
    const at::Tensor val = at::randn({2, 3, 41, 16}, g, o);
    const at::Tensor keep = at::rand({2, 1, 1, 41}, g, o).gt(0.2);
    const at::Tensor bias = at::randn({2, 1, 37, 41}, g, o);
    const at::Tensor qc = q.narrow(2, 0, 29), kc = k.narrow(2, 0, 29), vc = val.narrow(2, 0, 29);
    struct Case {
      const at::Tensor &q, &k, &v;
      std::optional<at::Tensor> mask;
      bool causal;
      std::optional<double> scale;
    };
    for (const Case& c : {Case{q, k, val, keep, false, std::nullopt}, Case{q, k, val, bias, false, 0.3}, Case{qc, kc, vc, std::nullopt, true, std::nullopt}}) {
      setDefaultEngine(from);
      const at::Tensor ref = at::scaled_dot_product_attention(c.q, c.k, c.v, c.mask, 0.25, c.causal, c.scale);
      const auto afterRef = defaultEngine().data();
      setDefaultEngine(from);
      const at::Tensor mine = composedAttention(c.q, c.k, c.v, c.mask, 0.25, c.causal, c.scale);
      same = same && sameValues(ref, mine) && sameEngine(afterRef, defaultEngine().data());
    }
    return same;
  });
}

}  // namespace

namespace ft {

// at::dropout(x, p, train), bit for bit and with the same generator state after, drawing fast
// where the self-check allows (a contiguous CPU floating tensor, 0 < p < 1, in train mode).
at::Tensor exactDropout(const at::Tensor& x, double p, bool train) {
  if (!train || !(p > 0 && p < 1) || !x.device().is_cpu() || x.layout() != at::kStrided || x.is_neg() || !x.is_contiguous() || x.numel() == 0 || !at::isFloatingType(x.scalar_type()) ||
      !matchesLibtorch(x.scalar_type()))
    return at::dropout(x, p, train);
  return dropWith(x, 1 - p, nullptr);  // libtorch's bernoulli_(1 - p), the same double
}

// Dropout of x (N, ...), the rows at `index` (N, int64) of a (total, ...) tensor whose other
// rows are not computed (a padded batch's real tokens): the masks and generator state are those
// of at::dropout on the whole tensor, so the rows get exactly what they would get in it.
at::Tensor exactDropoutRows(const at::Tensor& x, double p, bool train, const at::Tensor& index, int64_t total) {
  if (!train || !(p > 0 && p < 1)) return exactDropout(x, p, train);
  if (x.dim() < 1 || index.dim() != 1 || index.size(0) != x.size(0) || total < x.size(0))
    throw ArgError("dropoutRows: expected x (N, ...), index (N) and total >= N");
  if (index.scalar_type() != at::kLong || index.device() != x.device()) throw ArgError("dropoutRows: index must be int64 on x's device");
  const int64_t rowNumel = x.size(0) == 0 ? 0 : x.numel() / x.size(0);
  if (x.device().is_cpu() && x.layout() == at::kStrided && !x.is_neg() && x.is_contiguous() && x.numel() > 0 && at::isFloatingType(x.scalar_type()) &&
      matchesLibtorch(x.scalar_type())) {
    const double q = 1 - p;
    at::Tensor full;
    {
      auto def = at::globalContext().defaultGenerator(at::kCPU);
      std::lock_guard<std::mutex> lock(def.mutex());
      full = drawMask(total * rowNumel, q, at::check_generator<at::CPUGeneratorImpl>(def));
    }
    return maskedScale(x, full.view({total, rowNumel}).index_select(0, index).view(x.sizes()), scaleOf(q, x.scalar_type()));
  }
  std::vector<int64_t> shape = x.sizes().vec();
  shape[0] = total;
  return at::dropout(at::zeros(shape, x.options()).index_copy(0, index, x), p, true).index_select(0, index);
}

// scaled_dot_product_attention(q, k, v, mask, p, causal, scale, gqa), bit for bit and with the
// same generator state after. With dropout on the CPU libtorch takes its math path, whose
// attention dropout is at::dropout: the same path is composed here around exactDropout, where
// that draws fast and attentionMatches allows: float32 or float64 inputs of one dtype, a mask
// that is absent, boolean or of that dtype, no grouped-query expansion, no autocast (libtorch's
// call would run in the autocast dtype). Anything else, and every input libtorch would refuse
// (its checks are not public), goes to libtorch.
at::Tensor exactAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask, double p,
                          bool causal, std::optional<double> scale, bool gqa) {
  const auto t = q.scalar_type();
  const bool maskOk = !mask.has_value() || (mask->layout() == at::kStrided && (mask->scalar_type() == at::kBool || mask->scalar_type() == t) &&
                                            mask->device() == q.device() && !causal);
  if (!(p > 0 && p < 1) || gqa || !q.device().is_cpu() || (t != at::kFloat && t != at::kDouble) || k.scalar_type() != t || v.scalar_type() != t ||
      q.layout() != at::kStrided || k.layout() != at::kStrided || v.layout() != at::kStrided || q.dim() < 2 || k.dim() != q.dim() ||
      v.dim() != q.dim() || !k.device().is_cpu() || !v.device().is_cpu() || !maskOk || at::autocast::is_autocast_enabled(at::kCPU) ||
      !matchesLibtorch(t) || !attentionMatches(t))
    return at::scaled_dot_product_attention(q, k, v, mask, p, causal, scale, gqa);
  return composedAttention(q, k, v, mask, p, causal, scale);
}

// Attention for the first query of each (batch, head) alone, q (B, H, 1, D) against k, v
// (B, H, T, D), with attention dropout as scaled_dot_product_attention over all T queries would
// draw it: the first query's probabilities are rows (b * H + h) * T of the (B * H * T, T)
// probabilities, dropped with exactDropoutRows. Only where exactAttention would compose (the
// fast draw's checks pass): otherwise an error, so callers ask attentionFirstQueryExact first.
bool attentionFirstQueryExact(at::ScalarType t) {
  return (t == at::kFloat || t == at::kDouble) && !at::autocast::is_autocast_enabled(at::kCPU) && matchesLibtorch(t) && attentionMatches(t);
}

at::Tensor attentionFirstQuery(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask, double p,
                               std::optional<double> scale) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || q.size(2) != 1)
    throw ArgError("attentionFirstQuery: expected q (B, H, 1, D), k and v (B, H, T, D)");
  if (!q.device().is_cpu() || !attentionFirstQueryExact(q.scalar_type()) || k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type() ||
      (mask.has_value() && mask->scalar_type() != at::kBool && mask->scalar_type() != q.scalar_type()))
    throw ArgError("attentionFirstQuery: needs float32 or float64 CPU tensors of one dtype, no autocast, and libtorch's draw reproduced here");
  const at::Tensor probs = std::get<1>(
      at::_scaled_dot_product_attention_math(q, k, v.narrow(-1, 0, 0), additiveMask(mask, q.scalar_type()), 0.0, false, std::nullopt, scale, false));
  if (!(p > 0 && p < 1)) return at::matmul(probs, v);  // (B, H, 1, D)
  const int64_t B = q.size(0), H = q.size(1), T = k.size(2);
  const at::Tensor rows = at::arange(B * H, at::TensorOptions().dtype(at::kLong)).mul_(T);  // row (b * H + h) * T
  const at::Tensor dropped = exactDropoutRows(probs.reshape({B * H, T}), p, true, rows, B * H * T);
  return at::matmul(dropped.view({B, H, 1, T}), v);  // (B, H, 1, D)
}

}  // namespace ft

namespace {
// The math path's probabilities (its second output, dropout 0), then the dropout and the
// product with the values the math path would apply. The probabilities do not depend on the
// values: the math call gets an empty slice of them, so its own product costs nothing.
at::Tensor composedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask, double p,
                             bool causal, std::optional<double> scale) {
  const at::Tensor probs = std::get<1>(at::_scaled_dot_product_attention_math(q, k, v.narrow(-1, 0, 0), additiveMask(mask, q.scalar_type()), 0.0,
                                                                               causal, std::nullopt, scale, false));
  return at::matmul(ft::exactDropout(probs, p, true), v);
}
}  // namespace

// dropoutRows(x, p, train, index, total): dropout of the rows at index of a (total, ...) tensor.
FT_FN(dropoutRows) { return ft::ret(a.env(), ft::exactDropoutRows(a.tensor(0), a.f64(1), a.flag(2), a.tensor(3), a.i64(4))); }

// attentionFirstQuery(q, k, v, mask?, dropoutP, scale?): (B, H, 1, D), see ft::attentionFirstQuery.
FT_FN(attentionFirstQuery) {
  return ft::ret(a.env(), ft::attentionFirstQuery(a.tensor(0), a.tensor(1), a.tensor(2), a.optTensor(3), a.f64(4), a.optF64(5)));
}
// attentionFirstQueryExact(dtype): whether attentionFirstQuery can draw that dtype's dropout exactly here.
FT_FN(attentionFirstQueryExact) { return Napi::Boolean::New(a.env(), ft::attentionFirstQueryExact(a.dtype(0))); }

// dropoutReference(x, p, train): at::dropout itself, never the fast draw: what tests compare
// dropout() with.
FT_FN(dropoutReference) { return ft::ret(a.env(), at::dropout(a.tensor(0), a.f64(1), a.flag(2))); }

// attentionReference(q, k, v, mask?, dropoutP, isCausal, scale?): at::scaled_dot_product_attention
// itself, never the composed path: what tests compare scaledDotProductAttention() with.
FT_FN(attentionReference) {
  return ft::ret(a.env(), at::scaled_dot_product_attention(a.tensor(0), a.tensor(1), a.tensor(2), a.optTensor(3), a.f64(4), a.flag(5), a.optF64(6)));
}

// dropoutFastDraw(dtype) -> [dropout, attention]: whether dropout() and attention's dropout draw
// with this file's engine for that dtype (their self-checks passed), for tests and benchmarks.
FT_FN(dropoutFastDraw) {
  const at::ScalarType t = a.dtype(0);
  Napi::Array r = Napi::Array::New(a.env(), 2);
  r.Set(0u, Napi::Boolean::New(a.env(), at::isFloatingType(t) && matchesLibtorch(t)));
  r.Set(1u, Napi::Boolean::New(a.env(), (t == at::kFloat || t == at::kDouble) && !at::autocast::is_autocast_enabled(at::kCPU) && matchesLibtorch(t) &&
                                             attentionMatches(t)));
  return r;
}
