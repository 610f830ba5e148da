{
  "targets": [
    {
      "target_name": "tcplife",
      "sources": [
        "native/addon.cc",
        "native/probe.cc",
        "native/probe_options.cc",
        "native/probe_errors.cc",
        "native/privileges.cc",
        "native/kernel_counters.cc",
        "native/ring_poller.cc",
        "native/libbpf_log.cc",
        "native/program_part.cc",
        "native/open_sessions.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "bpf",
        "bpf/.output"
      ],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++1y", "-std=gnu++17"],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "cflags": ["<!@(pkg-config --cflags libbpf)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
