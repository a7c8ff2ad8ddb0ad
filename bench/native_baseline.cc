// The same per-op workloads in plain C++ on libtorch: the floor under both fulltune and
// PyTorch, so the bench can report dispatch overhead (time above this floor) per binding.
// Built by bench/ops.ts with scripts/locate-libtorch.js's flags. Prints JSON: seconds per op.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

template <typename F>
double perOp(F&& f, int iters) {
  f();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
}

int main(int argc, char** argv) {
  at::set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  const auto a = at::randn({4, 4}), b = at::randn({4, 4});
  const auto m1 = at::randn({64, 64}), m2 = at::randn({64, 64});
  const double add = perOp([&] { auto c = at::add(a, b); }, 200000);
  const double mm = perOp([&] { auto c = at::matmul(m1, m2); }, 20000);
  std::printf("{\"add_4x4\": %.9g, \"matmul_64x64\": %.9g}\n", add, mm);
  return 0;
}
