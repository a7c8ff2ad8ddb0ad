// Module entry: installs the large-block CPU cache (once per process) and this environment's
// registry, and exports every FT_FN.
#include "core.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ft::installCpuCache();
  ft::installRegistry(env);
  for (const auto& e : ft::entries()) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

NODE_API_MODULE(fulltune, Init)
