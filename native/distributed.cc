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

using ft::Args;

namespace {

#ifdef FT_HAVE_GLOO

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank;
  int world;
};

std::mutex groupsMutex;
std::unordered_map<int64_t, std::shared_ptr<Group>> groups;
int64_t nextGroup = 1;

std::shared_ptr<Group> group(const Args& a, size_t i) {
  const int64_t id = a.i64(i);
  std::lock_guard<std::mutex> lock(groupsMutex);
  auto it = groups.find(id);
  if (it == groups.end()) throw ft::HandleError("process group " + std::to_string(id) + " is destroyed or was never made");
  return it->second;
}

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
  std::lock_guard<std::mutex> lock(groupsMutex);
  const int64_t id = nextGroup++;
  groups[id] = g;
  return Napi::Number::New(a.env(), static_cast<double>(id));
}

// distDestroy(id): drops the group (its connections close); later calls with the id fail.
FT_FN(distDestroy) {
  const int64_t id = a.i64(0);
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> lock(groupsMutex);
    auto it = groups.find(id);
    if (it == groups.end()) return a.env().Undefined();
    g = it->second;
    groups.erase(it);
  }
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

#endif  // FT_HAVE_GLOO
