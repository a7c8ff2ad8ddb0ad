{
  # The same sources as CMakeLists.txt; libtorch's flags come from scripts/locate-libtorch.js.
  "targets": [
    {
      "target_name": "fulltune",
      "sources": [
        "native/addon.cc", "native/amp.cc", "native/autograd.cc", "native/core.cc", "native/cpu_cache.cc", "native/decode_matmul.cc", "native/distributed.cc", "native/dropout.cc", "native/exact_dropout.cc", "native/token_rows.cc", "native/fused.cc", "native/math.cc",
        "native/io.cc", "native/mapped.cc", "native/nn.cc", "native/optim.cc", "native/sample.cc", "native/shape.cc", "native/tensor.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/locate-libtorch.js --include)"
      ],
      "defines": [
        "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node scripts/locate-libtorch.js --defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "<!@(node scripts/locate-libtorch.js --cflags)"],
      "ldflags": ["<!@(node scripts/locate-libtorch.js --ldflags)", "<!@(node scripts/locate-libtorch.js --openmp-ldflags)"]
    }
  ]
}
