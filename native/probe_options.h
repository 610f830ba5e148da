// The options of `new Probe(options)`, read from JS once, at construction.
#pragma once

#include <napi.h>

#include <cstdint>

struct ProbeOptions {
  // How the core attaches: tp_btf, the classic tracepoint, or tp_btf with
  // the tracepoint as fallback.
  enum class Attach { kAuto, kTpBtf, kTracepoint };

  Attach attach = Attach::kAuto;
  uint32_t ring_bytes = 8u << 20;
  uint64_t wakeup_bytes = 64u << 10;
  uint64_t pidns_dev = 0;  // 0/0: the agent is in the initial PID namespace
  uint64_t pidns_ino = 0;
  uint32_t drain_interval_ms = 50;
  bool owner_from_io = true;
  bool find_open = true;
  uint32_t reject_for_test = 0;  // PART_* bits: tests only
};

// The defaults where `value` or an option is undefined; a TypeError for the
// first malformed option otherwise.
ProbeOptions ParseProbeOptions(Napi::Env env, const Napi::Value& value);
