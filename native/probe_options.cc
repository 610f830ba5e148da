#include "probe_options.h"

#include <linux/types.h>  // for session_event.h

#include <string>
#include <utility>

#include "session_event.h"

ProbeOptions ParseProbeOptions(Napi::Env env, const Napi::Value& value) {
  ProbeOptions options;
  if (value.IsUndefined()) return options;
  if (!value.IsObject()) throw Napi::TypeError::New(env, "Probe options must be an object");
  Napi::Object opts = value.As<Napi::Object>();

  Napi::Value attach = opts.Get("attach");
  if (!attach.IsUndefined()) {
    if (!attach.IsString()) throw Napi::TypeError::New(env, "attach must be a string");
    std::string name = attach.As<Napi::String>().Utf8Value();
    if (name == "auto") options.attach = ProbeOptions::Attach::kAuto;
    else if (name == "tp_btf") options.attach = ProbeOptions::Attach::kTpBtf;
    else if (name == "tracepoint") options.attach = ProbeOptions::Attach::kTracepoint;
    else throw Napi::TypeError::New(env, "attach must be auto, tp_btf or tracepoint");
  }
  Napi::Value ring = opts.Get("ringBytes");
  if (!ring.IsUndefined()) {
    double d = ring.IsNumber() ? ring.As<Napi::Number>().DoubleValue() : 0;
    uint64_t n = static_cast<uint64_t>(d);
    if (d != static_cast<double>(n) || n < 4096 || n > (1ull << 30) || (n & (n - 1)))
      throw Napi::TypeError::New(env, "ringBytes must be a power of two from 4096 to 1 GiB");
    options.ring_bytes = static_cast<uint32_t>(n);
  }
  Napi::Value wake = opts.Get("wakeupBytes");
  if (!wake.IsUndefined()) {
    double d = wake.IsNumber() ? wake.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::TypeError::New(env, "wakeupBytes must be a non-negative integer");
    options.wakeup_bytes = static_cast<uint64_t>(d);
  }
  Napi::Value interval = opts.Get("drainIntervalMs");
  if (!interval.IsUndefined()) {
    double d = interval.IsNumber() ? interval.As<Napi::Number>().DoubleValue() : 0;
    if (d < 1 || d > 60000 || d != static_cast<double>(static_cast<uint32_t>(d)))
      throw Napi::TypeError::New(env, "drainIntervalMs must be an integer from 1 to 60000");
    options.drain_interval_ms = static_cast<uint32_t>(d);
  }
  Napi::Value pidns = opts.Get("pidNamespace");
  if (!pidns.IsUndefined()) {
    // {dev, ino} of the agent's PID namespace (stat of /proc/self/ns/pid).
    Napi::Object o = pidns.IsObject() ? pidns.As<Napi::Object>() : Napi::Object::New(env);
    Napi::Value dev = o.Get("dev"), ino = o.Get("ino");
    auto whole = [](const Napi::Value& v) {
      if (!v.IsNumber()) return -1.0;
      double d = v.As<Napi::Number>().DoubleValue();
      return d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d)) ? d : -1.0;
    };
    if (whole(dev) < 0 || whole(ino) <= 0)
      throw Napi::TypeError::New(env, "pidNamespace must be {dev, ino} with non-negative integers, ino > 0");
    options.pidns_dev = static_cast<uint64_t>(whole(dev));
    options.pidns_ino = static_cast<uint64_t>(whole(ino));
  }
  Napi::Value find = opts.Get("findOpenSessions");
  if (!find.IsUndefined()) {
    if (!find.IsBoolean()) throw Napi::TypeError::New(env, "findOpenSessions must be a boolean");
    options.find_open = find.As<Napi::Boolean>().Value();
  }
  Napi::Value io = opts.Get("ownerFromSocketIo");
  if (!io.IsUndefined()) {
    if (!io.IsBoolean()) throw Napi::TypeError::New(env, "ownerFromSocketIo must be a boolean");
    options.owner_from_io = io.As<Napi::Boolean>().Value();
  }
  Napi::Value reject = opts.Get("rejectParts");
  if (!reject.IsUndefined()) {
    // Tests only: the named parts get a deliberate verifier error.
    static const std::pair<const char*, uint32_t> kParts[] = {
        {"core", PART_CORE},
        {"open-sessions", PART_OPEN_SESSIONS},
        {"owners-from-io", PART_OWNERS_FROM_IO},
        {"nested-state-changes", PART_NESTED_STATE_CHANGES},
    };
    const char* allowed = "rejectParts must be an array of: core, open-sessions, owners-from-io, nested-state-changes";
    if (!reject.IsArray()) throw Napi::TypeError::New(env, allowed);
    Napi::Array names = reject.As<Napi::Array>();
    for (uint32_t i = 0; i < names.Length(); i++) {
      Napi::Value v = names.Get(i);
      std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
      uint32_t bit = 0;
      for (const auto& [part, b] : kParts)
        if (name == part) bit = b;
      if (!bit) throw Napi::TypeError::New(env, allowed);
      options.reject_for_test |= bit;
    }
  }
  return options;
}
