// Process groups on libtorch's own c10d: a TCPStore rendezvous and ProcessGroupGloo, the engine
// torch.distributed runs on the CPU. Collectives are synchronous calls (they block until every
// rank has taken part, or fail when a rank is gone or the group's timeout passes); nothing here
// is global to more than the process groups this process made.
//
// Gloo's headers are not in the torch wheel: where they are installed (Debian: libgloo-dev),
// this file compiles the process group in; elsewhere every entry fails with what to install.
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core.h"

#if __has_include(<gloo/config.h>)
#define FT_HAVE_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <unordered_set>
#include <vector>

using ft::Args;

namespace {

#ifdef FT_HAVE_GLOO

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank;
  int world;
};

// Objects JS names by id (process groups, reducers): looked up under a lock, so that a call on
// one id cannot race the destruction of another.
template <typename T>
class Table {
 public:
  Table(const char* what, const char* gone) : what_(what), gone_(gone) {}
  int64_t add(std::shared_ptr<T> x) {
    std::lock_guard<std::mutex> lock(mu_);
    items_[next_] = std::move(x);
    return next_++;
  }
  std::shared_ptr<T> get(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(id);
    if (it == items_.end()) throw ft::HandleError(std::string(what_) + " " + std::to_string(id) + " is " + gone_ + " or was never made");
    return it->second;
  }
  // removes the id; null when it names nothing (freeing is idempotent)
  std::shared_ptr<T> take(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(id);
    if (it == items_.end()) return nullptr;
    auto x = std::move(it->second);
    items_.erase(it);
    return x;
  }

 private:
  const char* what_;
  const char* gone_;
  std::mutex mu_;
  std::unordered_map<int64_t, std::shared_ptr<T>> items_;
  int64_t next_ = 1;
};

Table<Group> groups("process group", "destroyed");

std::shared_ptr<Group> group(const Args& a, size_t i) { return groups.get(a.i64(i)); }

c10d::ReduceOp reduceOp(const std::string& op) {
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  throw ft::ArgError("op: expected 'sum', 'max', 'min' or 'product', got '" + op + "'");
}

void run(const c10::intrusive_ptr<c10d::Work>& w) {
  if (!w->wait()) throw std::runtime_error("the collective did not complete");
}

// The gradient all-reduce overlapped with the backward pass, as DistributedDataParallel's reducer
// does it: a hook after each parameter's AccumulateGrad marks it ready; a bucket whose parameters
// are all ready is flattened and its all-reduce launched (Gloo runs it on its own threads) while
// the backward goes on. Buckets launch strictly in their order, so every rank issues the same
// collectives in the same order whatever order its gradients arrive in. Each bucket carries one
// presence flag per parameter: a gradient some ranks lack counts as zeros there, and one that no
// rank has stays undefined. Hooks do nothing unless the reducer is armed (prepare); unarmed
// backward passes accumulate locally (DDP's no_sync).
struct Reducer {
  struct Bucket {
    std::vector<size_t> members;     // parameter indices, in reverse parameter order
    std::vector<int64_t> offsets;    // each member's offset in flat
    int64_t elems = 0;               // gradient elements; the presence flags follow them
    at::ScalarType dtype = at::kFloat;
    at::Device device = at::kCPU;
    at::Tensor flat;                 // kept between steps
    size_t waiting = 0;              // members not yet ready in this backward pass
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::shared_ptr<Group> g;
  std::vector<at::Tensor> params;
  std::vector<c10::intrusive_ptr<torch::autograd::Node>> accs;
  std::vector<uintptr_t> hooks;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucketOf;
  std::vector<char> ready;
  size_t next = 0;  // the first bucket not launched
  bool armed = false;
  std::mutex mu;

  ~Reducer() {
    for (size_t k = 0; k < accs.size(); ++k)
      if (accs[k]) accs[k]->del_post_hook(hooks[k]);
  }

  c10d::ProcessGroupGloo& pg() {
    if (!g->pg) throw std::runtime_error("the process group of this reducer is destroyed");
    return *g->pg;
  }

  // with mu held
  void launchReady() {
    while (next < buckets.size() && buckets[next].waiting == 0) {
      Bucket& b = buckets[next];
      at::NoGradGuard noGrad;
      const int64_t n = static_cast<int64_t>(b.members.size());
      if (!b.flat.defined()) b.flat = at::empty({b.elems + n}, at::TensorOptions().dtype(b.dtype).device(b.device));
      for (int64_t i = 0; i < n; ++i) {
        const at::Tensor& gr = params[b.members[i]].grad();
        at::Tensor slot = b.flat.narrow(0, b.offsets[i], params[b.members[i]].numel());
        if (gr.defined()) {
          if (gr.is_sparse()) throw std::runtime_error("parameter " + std::to_string(b.members[i]) + ": sparse gradients are not supported");
          slot.view(gr.sizes()).copy_(gr);
        } else {
          slot.zero_();
        }
      }
      // presence flags: one per member
      at::Tensor flags = at::empty({n}, at::kFloat);
      auto* f = flags.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) f[i] = params[b.members[i]].grad().defined() ? 1.f : 0.f;
      b.flat.narrow(0, b.elems, n).copy_(flags);
      std::vector<at::Tensor> one{b.flat};
      b.work = pg().allreduce(one);
      ++next;  // launched: counted only once its collective is on its way
    }
  }

  // with mu held
  void markReady(size_t k) {
    if (ready[k]) throw std::runtime_error("parameter " + std::to_string(k) + "'s gradient was accumulated twice in one backward pass (the gradient all-reduce overlapped with the backward needs one backward per step)");
    ready[k] = 1;
    --buckets[bucketOf[k]].waiting;
  }

  void onGrad(size_t k) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    markReady(k);
    launchReady();
  }
};

Table<Reducer> reducers("gradient reducer", "freed");

std::shared_ptr<Reducer> reducer(const Args& a, size_t i) { return reducers.get(a.i64(i)); }

#else

[[noreturn]] void noGloo() {
  throw std::runtime_error(
      "this fulltune addon was built without Gloo, so it cannot train on several processes: install Gloo's headers "
      "(Debian/Ubuntu: apt-get install libgloo-dev) and rebuild (npm run build:native)");
}

#endif

}  // namespace

// distAvailable() -> whether the addon was built with Gloo
FT_FN(distAvailable) {
#ifdef FT_HAVE_GLOO
  return Napi::Boolean::New(a.env(), true);
#else
  return Napi::Boolean::New(a.env(), false);
#endif
}

#ifdef FT_HAVE_GLOO

// distInit(rank, worldSize, masterAddr, masterPort, timeoutMs, isServer, prefix, bindHost) -> group id
// Rendezvous through a TCPStore at masterAddr:masterPort (served by rank 0 when isServer, or by a
// launcher such as torchrun), then a Gloo process group over bindHost's interface. Blocks until
// every rank has joined or timeoutMs passes. bindHost '' binds to this machine's hostname.
FT_FN(distInit) {
  const int64_t rank = a.i64(0), world = a.i64(1);
  const std::string addr = a.str(2);
  const int64_t port = a.i64(3), timeoutMs = a.i64(4);
  const bool isServer = a.flag(5);
  const std::string prefix = a.str(6), bindHost = a.str(7);
  if (world < 1) throw ft::ArgError("worldSize: expected at least 1, got " + std::to_string(world));
  if (rank < 0 || rank >= world) throw ft::ArgError("rank " + std::to_string(rank) + " is outside 0.." + std::to_string(world - 1));
  if (port < 1 || port > 65535) throw ft::ArgError("port: expected 1..65535, got " + std::to_string(port));
  if (timeoutMs < 1) throw ft::ArgError("timeoutMs: expected a positive number");
  const auto timeout = std::chrono::milliseconds(timeoutMs);
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = isServer;
  so.numWorkers = static_cast<size_t>(world);
  so.waitWorkers = true;  // a client announces itself; the server waits for all of them
  so.timeout = timeout;
  auto g = std::make_shared<Group>();
  g->rank = static_cast<int>(rank);
  g->world = static_cast<int>(world);
  auto tcp = c10::make_intrusive<c10d::TCPStore>(addr, so);
  g->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  // as torch.distributed: an interface named by GLOO_SOCKET_IFNAME, else the given host, else this
  // machine's hostname (loopback when it does not resolve)
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (!bindHost.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(bindHost));
  else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->world, opts);
  return Napi::Number::New(a.env(), static_cast<double>(groups.add(g)));
}

// distDestroy(id): drops the group (its connections close); later calls with the id fail.
FT_FN(distDestroy) {
  auto g = groups.take(a.i64(0));
  if (!g) return a.env().Undefined();
  g->pg.reset();
  g->store.reset();
  return a.env().Undefined();
}

// distAllReduce(id, tensors, op, timeoutMs?): each tensor replaced by its own reduction over the
// ranks, in place (one collective per tensor: Gloo sums the tensors of one call together).
FT_FN(distAllReduce) {
  auto g = group(a, 0);
  auto ts = a.tensors(1);
  c10d::AllreduceOptions o;
  o.reduceOp = reduceOp(a.missing(2) ? "sum" : a.str(2));
  if (!a.missing(3)) {
    if (a.i64(3) < 1) throw ft::ArgError("timeoutMs: expected a positive number");
    o.timeout = std::chrono::milliseconds(a.i64(3));
  }
  at::NoGradGuard noGrad;
  for (auto& t : ts)
    if (!t.is_contiguous()) throw ft::ArgError("tensors: all-reduce works in place on contiguous tensors");
  for (auto& t : ts) {
    std::vector<at::Tensor> one{t};
    run(g->pg->allreduce(one, o));
  }
  return a.env().Undefined();
}

// distBroadcast(id, tensors, root): every rank's tensors become root's, in place.
FT_FN(distBroadcast) {
  auto g = group(a, 0);
  auto ts = a.tensors(1);
  const int64_t root = a.i64(2);
  if (root < 0 || root >= g->world) throw ft::ArgError("root " + std::to_string(root) + " is outside 0.." + std::to_string(g->world - 1));
  at::NoGradGuard noGrad;
  for (auto& t : ts) {
    if (!t.is_contiguous()) throw ft::ArgError("tensors: broadcast works in place on contiguous tensors");
    std::vector<at::Tensor> one{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    run(g->pg->broadcast(one, o));
  }
  return a.env().Undefined();
}

// distAllGather(id, tensor) -> [tensor of rank 0, ..., of rank N-1] (same shape on every rank)
FT_FN(distAllGather) {
  auto g = group(a, 0);
  at::Tensor t = a.tensor(1).contiguous();
  at::NoGradGuard noGrad;
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < g->world; ++r) out[0].push_back(at::empty_like(t));
  std::vector<at::Tensor> in{t};
  run(g->pg->allgather(out, in));
  return ft::retList(a.env(), out[0]);
}

// distBarrier(id, timeoutMs?): returns when every rank has called it (timeoutMs: this wait's bound).
FT_FN(distBarrier) {
  auto g = group(a, 0);
  c10d::BarrierOptions o;
  if (!a.missing(1)) {
    if (a.i64(1) < 1) throw ft::ArgError("timeoutMs: expected a positive number");
    o.timeout = std::chrono::milliseconds(a.i64(1));
  }
  run(g->pg->barrier(o));
  return a.env().Undefined();
}

// distAllReduceGrads(id, params, bucketBytes) -> whether any gradient was reduced
// Sums the parameters' gradients over the ranks as DistributedDataParallel's reducer does:
// flattened into buckets of about bucketBytes, in reverse parameter order, one collective per
// bucket, all launched before the first is waited on. A parameter with a gradient on some ranks
// only gets zeros on the others (first a presence all-reduce), so that every rank reduces the
// same buckets and ends with the same gradients; one with a gradient nowhere keeps none.
FT_FN(distAllReduceGrads) {
  auto g = group(a, 0);
  auto params = a.tensors(1);
  const int64_t bucketBytes = a.i64(2);
  if (bucketBytes < 1) throw ft::ArgError("bucketBytes: expected a positive number");
  at::NoGradGuard noGrad;
  // which parameters have a gradient on any rank
  at::Tensor present = at::empty({static_cast<int64_t>(params.size())}, at::kInt);
  auto* pp = present.data_ptr<int32_t>();
  for (size_t k = 0; k < params.size(); ++k) pp[k] = params[k].grad().defined() ? 1 : 0;
  if (!params.empty()) {
    std::vector<at::Tensor> one{present};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::MAX;
    run(g->pg->allreduce(one, o));
  }
  struct Bucket {
    std::vector<at::Tensor> grads;
    at::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  std::map<std::pair<std::string, int>, size_t> open;  // (device, dtype) -> bucket being filled
  std::map<size_t, int64_t> filled;
  for (size_t k = params.size(); k-- > 0;) {
    if (!pp[k]) continue;
    auto& p = params[k];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    const at::Tensor& gr = p.grad();
    if (gr.is_sparse()) throw ft::ArgError("parameter " + std::to_string(k) + ": sparse gradients are not supported");
    const auto key = std::make_pair(gr.device().str(), static_cast<int>(gr.scalar_type()));
    auto it = open.find(key);
    if (it == open.end() || filled[it->second] >= bucketBytes) {
      buckets.emplace_back();
      it = open.insert_or_assign(key, buckets.size() - 1).first;
      filled[it->second] = 0;
    }
    buckets[it->second].grads.push_back(gr);
    filled[it->second] += gr.numel() * static_cast<int64_t>(gr.element_size());
  }
  for (auto& b : buckets) {
    std::vector<at::Tensor> flats;
    flats.reserve(b.grads.size());
    for (auto& gr : b.grads) flats.push_back(gr.reshape({-1}));
    b.flat = at::cat(flats);
    std::vector<at::Tensor> one{b.flat};
    b.work = g->pg->allreduce(one);
  }
  for (auto& b : buckets) {
    run(b.work);
    int64_t off = 0;
    for (auto& gr : b.grads) {
      const int64_t n = gr.numel();
      gr.copy_(b.flat.narrow(0, off, n).view(gr.sizes()));
      off += n;
    }
  }
  return Napi::Boolean::New(a.env(), !buckets.empty());
}

// distReduceScatter(id, input, op?) -> this rank's part: input (N*n, ...) reduced over the ranks,
// then split in N parts along its first dimension; rank r gets part r.
FT_FN(distReduceScatter) {
  auto g = group(a, 0);
  at::Tensor in = a.tensor(1);
  c10d::ReduceScatterOptions o;
  o.reduceOp = reduceOp(a.missing(2) ? "sum" : a.str(2));
  if (in.dim() < 1 || in.size(0) % g->world != 0)
    throw ft::ArgError("input: expected a first dimension divisible by the " + std::to_string(g->world) + " ranks, got shape " + c10::str(in.sizes()));
  at::NoGradGuard noGrad;
  in = in.contiguous();
  std::vector<std::vector<at::Tensor>> parts(1);
  for (auto& p : in.chunk(g->world, 0)) parts[0].push_back(p.contiguous());
  std::vector<at::Tensor> out{at::empty_like(parts[0][0])};
  run(g->pg->reduce_scatter(out, parts, o));
  return ft::ret(a.env(), out[0]);
}

// distReducerNew(id, params, bucketBytes, firstBucketBytes) -> reducer id
// Buckets the parameters that require gradients, in reverse order, by device and dtype: the first
// bucket holds up to firstBucketBytes (DDP: 1 MiB, so that communication starts early), the
// others up to bucketBytes (DDP's bucket_cap_mb, 25 MiB); hooks go on their AccumulateGrad nodes.
FT_FN(distReducerNew) {
  auto g = group(a, 0);
  auto params = a.tensors(1);
  const int64_t bucketBytes = a.i64(2), firstBytes = a.i64(3);
  if (bucketBytes < 1 || firstBytes < 1) throw ft::ArgError("bucketBytes, firstBucketBytes: expected positive numbers");
  auto r = std::make_shared<Reducer>();
  r->g = g;
  r->params = params;
  r->accs.resize(params.size());
  r->hooks.assign(params.size(), 0);
  r->bucketOf.assign(params.size(), 0);
  r->ready.assign(params.size(), 1);
  std::map<std::pair<std::string, int>, size_t> open;  // (device, dtype) -> bucket being filled
  for (size_t k = params.size(); k-- > 0;) {
    const at::Tensor& p = params[k];
    if (!p.requires_grad()) continue;
    if (!p.is_leaf()) throw ft::ArgError("params[" + std::to_string(k) + "]: expected a leaf tensor (a parameter)");
    const auto key = std::make_pair(p.device().str(), static_cast<int>(p.scalar_type()));
    auto it = open.find(key);
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (it == open.end() || (r->buckets[it->second].elems > 0 &&
                             (r->buckets[it->second].elems * static_cast<int64_t>(p.element_size()) + bytes >
                              (it->second == 0 ? firstBytes : bucketBytes)))) {
      r->buckets.emplace_back();
      r->buckets.back().dtype = p.scalar_type();
      r->buckets.back().device = p.device();
      it = open.insert_or_assign(key, r->buckets.size() - 1).first;
    }
    Reducer::Bucket& b = r->buckets[it->second];
    b.members.push_back(k);
    b.offsets.push_back(b.elems);
    b.elems += p.numel();
    r->bucketOf[k] = it->second;
  }
  Reducer* self = r.get();
  for (size_t k = 0; k < params.size(); ++k) {
    if (!params[k].requires_grad()) continue;
    r->accs[k] = torch::autograd::impl::grad_accumulator(params[k]);
    r->hooks[k] = r->accs[k]->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [self, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          self->onGrad(k);
          return outputs;
        }));
  }
  return Napi::Number::New(a.env(), static_cast<double>(reducers.add(r)));
}

// distReducerPrepare(id, outputs): arms the reducer for the backward pass from outputs (the loss).
// Parameters the outputs do not depend on are ready at once (DDP's find_unused_parameters): their
// gradients cannot change in this pass.
FT_FN(distReducerPrepare) {
  auto r = reducer(a, 0);
  auto outs = a.tensors(1);
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack;
  for (auto& o : outs) {
    auto e = torch::autograd::impl::gradient_edge(o);
    if (e.function && seen.insert(e.function.get()).second) stack.push_back(e.function.get());
  }
  while (!stack.empty()) {
    torch::autograd::Node* n = stack.back();
    stack.pop_back();
    for (const auto& e : n->next_edges())
      if (e.function && seen.insert(e.function.get()).second) stack.push_back(e.function.get());
  }
  std::lock_guard<std::mutex> lock(r->mu);
  if (r->armed) throw std::runtime_error("the gradient reducer is already prepared for a backward pass (finish it first)");
  for (auto& b : r->buckets) {
    b.waiting = b.members.size();
    b.work.reset();
  }
  for (auto& b : r->buckets)
    for (size_t k : b.members) r->ready[k] = 0;
  r->next = 0;
  r->armed = true;
  try {
    for (auto& b : r->buckets)
      for (size_t k : b.members)
        if (!seen.count(r->accs[k].get())) r->markReady(k);
    r->launchReady();
  } catch (...) {
    r->armed = false;
    throw;
  }
  return a.env().Undefined();
}

// distReducerFinish(id) -> { reduced, buckets, overlapped }
// After the backward pass: launches what is left, waits for every bucket, and writes the summed
// gradients back (a gradient no rank had stays undefined). Disarms the reducer, failing or not.
// reduced: whether any gradient was reduced; overlapped: the buckets launched before this call
// (during the backward pass or at prepare), of buckets.
FT_FN(distReducerFinish) {
  auto r = reducer(a, 0);
  std::lock_guard<std::mutex> lock(r->mu);
  if (!r->armed) throw std::runtime_error("the gradient reducer was not prepared for this backward pass");
  bool any = false;
  const size_t overlapped = r->next;
  try {
    for (auto& b : r->buckets)
      for (size_t k : b.members)
        if (!r->ready[k]) r->markReady(k);
    r->launchReady();
    at::NoGradGuard noGrad;
    for (auto& b : r->buckets) {
      if (!b.work) throw std::runtime_error("a bucket's all-reduce was never launched (an earlier failure in this backward pass)");
      run(b.work);
      b.work.reset();
      const int64_t n = static_cast<int64_t>(b.members.size());
      at::Tensor flags = b.flat.narrow(0, b.elems, n).to(at::kCPU, at::kFloat);
      const auto* f = flags.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        if (f[i] <= 0.f) continue;  // no rank had this gradient
        any = true;
        at::Tensor& p = r->params[b.members[i]];
        at::Tensor slot = b.flat.narrow(0, b.offsets[i], p.numel()).view(p.sizes());
        if (p.grad().defined()) p.mutable_grad().copy_(slot);
        else p.mutable_grad() = slot.clone();
      }
    }
  } catch (...) {
    r->armed = false;
    throw;
  }
  r->armed = false;
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("reduced", Napi::Boolean::New(a.env(), any));
  o.Set("buckets", Napi::Number::New(a.env(), static_cast<double>(r->buckets.size())));
  o.Set("overlapped", Napi::Number::New(a.env(), static_cast<double>(overlapped)));
  return o;
}

// distReducerDisarm(id): leaves a backward pass that failed. Collectives in flight are dropped
// (Gloo finishes them into buffers this reducer lets go of); if the failure was on some ranks
// only, the ranks have issued different collectives and the group cannot be used further.
FT_FN(distReducerDisarm) {
  auto r = reducer(a, 0);
  std::lock_guard<std::mutex> lock(r->mu);
  r->armed = false;
  for (auto& b : r->buckets) {
    b.work.reset();
    b.flat = at::Tensor();
  }
  return a.env().Undefined();
}

// distReducerFree(id): removes the hooks; later calls with the id fail.
FT_FN(distReducerFree) {
  reducers.take(a.i64(0));  // its hooks go with its last holder
  return a.env().Undefined();
}

#else

// Without Gloo every entry but distAvailable fails with what to install.
#define FT_NO_GLOO(name) \
  FT_FN(name) { noGloo(); }
FT_NO_GLOO(distInit)
FT_NO_GLOO(distDestroy)
FT_NO_GLOO(distAllReduce)
FT_NO_GLOO(distBroadcast)
FT_NO_GLOO(distAllGather)
FT_NO_GLOO(distBarrier)
FT_NO_GLOO(distAllReduceGrads)
FT_NO_GLOO(distReduceScatter)
FT_NO_GLOO(distReducerNew)
FT_NO_GLOO(distReducerPrepare)
FT_NO_GLOO(distReducerFinish)
FT_NO_GLOO(distReducerDisarm)
FT_NO_GLOO(distReducerFree)

#endif  // FT_HAVE_GLOO
