#include "probe.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "kernel_filters.h"
#include "libbpf_log.h"
#include "open_sessions.h"
#include "probe_errors.h"
#include "session_event.h"
#include "tcplife.skel.h"

namespace {

constexpr size_t kMaxBatch = 4096;  // records per call into JS

}  // namespace

Napi::Function Probe::Define(Napi::Env env) {
  return DefineClass(env, "Probe",
                     {
                         InstanceMethod<&Probe::Start>("start"),
                         InstanceMethod<&Probe::SetFilters>("setFilters"),
                         InstanceMethod<&Probe::FilterGeneration>("filterGeneration"),
                         InstanceMethod<&Probe::Drain>("drain"),
                         InstanceMethod<&Probe::Counters>("counters"),
                         InstanceMethod<&Probe::FindOpenSessions>("findOpenSessions"),
                         InstanceMethod<&Probe::Stop>("stop"),
                     });
}

Probe::Probe(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Probe>(info), options_(ParseProbeOptions(info.Env(), info[0])) {}

Probe::~Probe() { Teardown(); }

int Probe::StartCore(Mechanism mechanism, const FilterSpec& filters, const char** stage) {
  bool btf = mechanism == Mechanism::kTpBtf;
  *stage = "opening";
  core_ = std::make_unique<ProgramPart>("core", std::vector<std::string>{btf ? "set_state_btf" : "set_state_tp"});
  int err = core_->Open();
  if (err) return err;

  // Knobs and sizes live in the core's maps; every other part reuses them.
  tcplife_bpf* skel = core_->skel();
  skel->rodata->wakeup_bytes = options_.wakeup_bytes;
  skel->rodata->pidns_dev = options_.pidns_dev;
  skel->rodata->pidns_ino = options_.pidns_ino;
  skel->rodata->reject_for_test = options_.reject_for_test;
  bpf_map__set_max_entries(skel->maps.events, options_.ring_bytes);
  // Only the classic tracepoint needs the LRU fallback; keep it tiny otherwise.
  if (btf) bpf_map__set_max_entries(skel->maps.sk_states_lru, 1);

  *stage = "loading";
  err = core_->Load(nullptr);
  if (err) return err;

  // Before attaching: no session is ever judged without them.
  *stage = "filtering";
  filters_ = std::make_unique<FilterGenerations>(skel);
  err = filters_->Apply(filters, /*running=*/false);
  if (err) return err;

  *stage = "attaching";
  if (!btf) {
    err = tracefs_.Ensure();
    if (err) return err;
  }
  return core_->Attach();
}

void Probe::StartOptionalParts() {
  struct Spec {
    const char* name;
    std::vector<std::string> programs;
    bool wanted;
  };
  // The twin first: it covers the core from the moment it runs.
  const Spec specs[] = {
      {"nested-state-changes", {"set_state_nested"}, true},
      {"owners-from-io", {"owner_on_send", "owner_on_recv"}, options_.owner_from_io},
      {"open-sessions", {"find_open_owners", "find_open_sessions"}, options_.find_open},
  };
  for (const Spec& spec : specs) {
    auto part = std::make_unique<ProgramPart>(spec.name, spec.programs);
    const char* stage = "opening";
    int err = 0;
    if (!spec.wanted) {
      part->Skip("turned off by the configuration");
    } else if (mechanism_ != Mechanism::kTpBtf) {
      part->Skip("needs socket storage, which the classic tracepoint cannot use");
    } else {
      LibbpfLogClear();
      err = part->Open();
      if (!err) {
        stage = "loading";
        err = part->Load(core());
      }
      if (!err) {
        stage = "attaching";
        err = part->Attach();
      }
      if (err) part->Fail(err, stage, LibbpfLogTail());
    }
    optional_.push_back(std::move(part));
  }
}

ProgramPart* Probe::OptionalPart(const std::string& name) const {
  for (const auto& part : optional_)
    if (part->name() == name) return part.get();
  return nullptr;
}

Napi::Value Probe::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_) throw Napi::Error::New(env, "probe already started");
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "start(filters: object, onBatch: function)");

  // Malformed filters fail here, before anything is loaded.
  FilterSpec filters = ParseFilterSpec(env, info[0].As<Napi::Object>());

  if (access("/sys/kernel/btf/vmlinux", F_OK) != 0) {
    throw ProbeError(env, -ENOENT, "opening",
                     "kernel BTF not found at /sys/kernel/btf/vmlinux: tcplife-otel needs a "
                     "kernel built with CONFIG_DEBUG_INFO_BTF=y (for CO-RE)");
  }

  auto t0 = std::chrono::steady_clock::now();
  LibbpfLogClear();
  const char* stage = "opening";
  std::string tp_btf_refused;  // why auto fell back to the classic tracepoint
  using Attach = ProbeOptions::Attach;
  mechanism_ = options_.attach == Attach::kTracepoint ? Mechanism::kTracepoint : Mechanism::kTpBtf;
  int err = StartCore(mechanism_, filters, &stage);
  // Fall back only when the BTF tracepoint itself is the problem: missing
  // privileges or a filter the maps refuse would fail the same way twice.
  if (err && options_.attach == Attach::kAuto && !PermissionError(err, stage) && std::string(stage) != "filtering") {
    std::string log = LibbpfLogTail();
    tp_btf_refused = std::string(stage) + ": " + FailureReason(err, log);  // the core has one program
    Teardown();
    LibbpfLogClear();
    mechanism_ = Mechanism::kTracepoint;
    err = StartCore(mechanism_, filters, &stage);
    if (err) {
      std::string reason = FailureReason(err, LibbpfLogTail());
      std::string both = LibbpfLogTail();
      Teardown();
      Napi::Error e = ProbeError(env, err, stage,
                                 Explain(err, stage, "tracepoint", reason) + " (tp_btf was tried first: " + tp_btf_refused + ")");
      e.Set("libbpfLog", Napi::String::New(env, log + both));
      throw e;
    }
  }
  const char* mech_name = mechanism_ == Mechanism::kTpBtf ? "tp_btf" : "tracepoint";
  if (err) {
    std::string reason = FailureReason(err, LibbpfLogTail());
    Napi::Error e = ProbeError(env, err, stage, Explain(err, stage, mech_name, reason));
    Teardown();
    throw e;
  }
  StartOptionalParts();

  on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
  // One buffer for every batch, shared with JS: no allocation per batch.
  batch_view_ = Napi::Persistent(Napi::Buffer<uint8_t>::New(env, kMaxBatch * sizeof(session_event)));
  async_ = std::make_unique<Napi::AsyncContext>(env, "tcplife-otel:ring-buffer");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poller_ = std::make_unique<RingPoller>(
      loop, bpf_map__fd(core()->maps.events), sizeof(session_event),
      static_cast<uint8_t*>(batch_view_.Value().Data()), kMaxBatch, options_.drain_interval_ms,
      [this](size_t records) { DeliverBatch(records); },
      [this]() { DrainFromLoop(); });
  err = poller_->Start();
  if (err) {
    Teardown();
    throw ProbeError(env, err, "polling", std::string("ring buffer setup failed: ") + strerror(-err));
  }
  double attach_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  Napi::Object result = Napi::Object::New(env);
  result.Set("mechanism", Napi::String::New(env, mech_name));
  result.Set("attachMs", Napi::Number::New(env, attach_ms));
  if (!tp_btf_refused.empty()) result.Set("tpBtfRefused", Napi::String::New(env, tp_btf_refused));
  Napi::Array parts = Napi::Array::New(env, optional_.size());
  for (uint32_t i = 0; i < optional_.size(); i++) {
    const ProgramPart& part = *optional_[i];
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", Napi::String::New(env, part.name()));
    p.Set("on", Napi::Boolean::New(env, part.on()));
    if (!part.on()) {
      p.Set("reason", Napi::String::New(env, part.reason()));
      p.Set("log", Napi::String::New(env, part.log()));
    }
    parts.Set(i, p);
  }
  result.Set("parts", parts);
  return result;
}

// Every TCP session open now, and not yet followed, gets state with its
// role and owner (see open_sessions.h). Returns {found, ms, namespaces,
// namespacesMissed, missedReason?, ownersDropped}, or {found: -1, reason}
// when the open-sessions part is off.
Napi::Value Probe::FindOpenSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core()) throw Napi::Error::New(env, "probe not started");
  Napi::Object result = Napi::Object::New(env);
  ProgramPart* part = OptionalPart("open-sessions");
  if (!part || !part->on()) {
    result.Set("found", Napi::Number::New(env, -1));
    result.Set("reason", Napi::String::New(env, part ? part->reason() : "not loaded"));
    return result;
  }
  OpenSessionsFound found;
  int err = ::FindOpenSessions(*part, core(), &found);
  if (err) throw ProbeError(env, err, "finding open sessions", std::string("the iterator failed: ") + strerror(-err));
  auto num = [&](double v) { return Napi::Number::New(env, v); };
  result.Set("found", num(static_cast<double>(found.sessions)));
  result.Set("ms", num(found.ms));
  result.Set("namespaces", num(found.namespaces));
  result.Set("namespacesMissed", num(found.namespaces_missed));
  if (!found.missed_reason.empty()) result.Set("missedReason", Napi::String::New(env, found.missed_reason));
  result.Set("ownersDropped", num(static_cast<double>(found.owners_dropped)));
  return result;
}

Napi::Value Probe::FilterGeneration(const Napi::CallbackInfo& info) {
  if (!filters_) throw Napi::Error::New(info.Env(), "probe not started");
  return Napi::Number::New(info.Env(), filters_->Active());
}

void Probe::SetFilters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core()) throw Napi::Error::New(env, "probe not started");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setFilters(filters: object)");
  FilterSpec filters = ParseFilterSpec(env, info[0].As<Napi::Object>());
  int err = filters_->Apply(filters, /*running=*/true);
  if (err) throw ProbeError(env, err, "filtering", Explain(err, "filtering", "", strerror(-err)));
}

void Probe::DeliverBatch(size_t records) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  try {
    on_batch_.MakeCallback(
        Value(), {batch_view_.Value(), Napi::Number::New(env, static_cast<double>(records))},
        *async_);
  } catch (const Napi::Error& e) {
    if (pending_error_.IsEmpty()) pending_error_ = Napi::Persistent(e.Value().As<Napi::Value>());
  }
}

void Probe::DrainFromLoop() {
  poller_->Drain();
  if (!pending_error_.IsEmpty()) {
    // No JS frame below the loop: raise it as an uncaught exception.
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Value err = pending_error_.Value();
    pending_error_.Reset();
    napi_fatal_exception(env, err);
  }
}

Napi::Value Probe::Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!poller_) return Napi::Number::New(env, 0);
  long n = poller_->Drain();
  if (!pending_error_.IsEmpty()) {
    Napi::Value err = pending_error_.Value();
    pending_error_.Reset();
    throw Napi::Error(env, err);
  }
  return Napi::Number::New(env, static_cast<double>(n < 0 ? 0 : n));
}

void Probe::ReadKernelCounters() {
  if (!core()) return;  // after stop: keep the last reading
  std::vector<const ProgramPart*> parts{core_.get()};
  for (const auto& part : optional_) parts.push_back(part.get());
  counters_.Read(core(), parts);
}

Napi::Value Probe::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadKernelCounters();
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object out = Napi::Object::New(env);
  // Named as in src/sessions/counters.ts; the kernel's own by their slot
  // (the enum in bpf/session_event.h), which that table maps to names.
  Napi::Array kernel = Napi::Array::New(env, COUNTER_MAX);
  for (uint32_t i = 0; i < COUNTER_MAX; i++) kernel.Set(i, num(counters_.slots()[i]));
  out.Set("kernel", kernel);
  out.Set("skipped_state_changes", num(counters_.skipped_state_changes()));
  out.Set("skipped_owner_checks", num(counters_.skipped_owner_checks()));
  out.Set("malformed_records", num(poller_ ? poller_->malformed() : 0));
  out.Set("sessions_delivered", num(poller_ ? poller_->delivered() : 0));
  out.Set("ringbuf_wakeups", num(poller_ ? poller_->wakeups() : 0));
  const std::vector<KernelCounters::Program>& stats = counters_.programs();
  Napi::Array programs = Napi::Array::New(env, stats.size());
  for (uint32_t i = 0; i < stats.size(); i++) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", Napi::String::New(env, stats[i].name));
    p.Set("runCount", num(stats[i].run_count));
    p.Set("runTimeNs", num(stats[i].run_time_ns));
    p.Set("recursionMisses", num(stats[i].recursion_misses));
    programs.Set(i, p);
  }
  out.Set("programs", programs);
  return out;
}

void Probe::Teardown() {
  // Mirror of start: stop reading, then detach and unload, the core last.
  if (poller_) poller_->Stop();
  if (core_) {
    ReadKernelCounters();  // the counters outlive the maps
    while (!optional_.empty()) optional_.pop_back();
    filters_.reset();
    core_.reset();
  }
  optional_.clear();
  tracefs_.Release();  // after the core: nothing attached to it any more
}

void Probe::Stop(const Napi::CallbackInfo& info) {
  if (poller_ && core()) {
    poller_->Drain();  // hand over what the kernel already queued
  }
  Teardown();
  if (!pending_error_.IsEmpty()) {
    Napi::Value err = pending_error_.Value();
    pending_error_.Reset();
    throw Napi::Error(info.Env(), err);
  }
}
