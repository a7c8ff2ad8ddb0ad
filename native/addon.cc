// Module entry: installs the large-block CPU cache (once per process) and this environment's
// registry, and exports every FT_FN.
#include <c10/util/Logging.h>

#include <cstdlib>

#include "core.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ft::installCpuCache();
  // libtorch's own warnings quote the errors they recover from with a C++ stack trace (c10d's
  // TCP client retrying after a signal: 15 frames of a worker stopped by its launcher); errors
  // reach JS without it anyway (what_without_backtrace). FULLTUNE_CPP_STACKTRACES=1 keeps them.
  if (std::getenv("FULLTUNE_CPP_STACKTRACES") == nullptr) c10::SetStackTraceFetcher([]() -> std::string { return ""; });
  ft::installRegistry(env);
  for (const auto& e : ft::entries()) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

NODE_API_MODULE(fulltune, Init)
