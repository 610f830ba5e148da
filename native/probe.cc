#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernel_filters.h"
#include "libbpf_log.h"
#include "open_sessions.h"
#include "session_event.h"
#include "tcplife.skel.h"

namespace {

constexpr size_t kMaxBatch = 4096;  // records per call into JS

bool PathExists(const char* path) { return access(path, F_OK) == 0; }

// The classic tracepoint needs tracefs, which this kind of machine does not
// mount at boot. *mounted says whether we mounted it (and so unmount it).
int EnsureTracefs(bool* mounted) {
  *mounted = false;
  if (PathExists("/sys/kernel/tracing/events") || PathExists("/sys/kernel/debug/tracing/events"))
    return 0;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0) return -errno;
  *mounted = true;
  return 0;
}

// Effective capabilities from /proc/self/status (no libcap dependency).
uint64_t EffectiveCapabilities() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long caps = 0;
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "CapEff: %llx", &caps) == 1) break;
  }
  fclose(f);
  return caps;
}

bool MayTrace() {
  constexpr int kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;
  uint64_t caps = EffectiveCapabilities();
  auto has = [caps](int cap) { return (caps >> cap) & 1; };
  return has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon));
}

// Whether the error is missing privileges, not the kernel refusing the program.
bool PermissionError(int err, const char* stage) {
  int e = err < 0 ? -err : err;
  if (e == EPERM) return true;
  // With the privileges in place, EACCES at load is the verifier saying no.
  return e == EACCES && !(std::string(stage) == "loading" && MayTrace());
}

// The message for a core failure; `reason` is the kernel's own words.
std::string Explain(int err, const char* stage, const std::string& mechanism, const std::string& reason) {
  int e = err < 0 ? -err : err;
  std::string what = mechanism.empty() ? "" : " (" + mechanism + ")";
  if (PermissionError(err, stage))
    return "permission denied while " + std::string(stage) +
           " the BPF program: run as root, or grant CAP_BPF and CAP_PERFMON";
  if (e == EACCES)
    return "the kernel's verifier rejected the core program" + what + ": " + reason +
           "; run with --verbose to see its log, and report it with your kernel version";
  if (std::string(stage) == "filtering") return "setting the kernel filters failed: " + std::string(strerror(e));
  if (e == ENOENT && std::string(stage) == "attaching")
    return "tracepoint sock:inet_sock_set_state not found" + what + ": the kernel must be Linux 4.16 or later";
  return std::string(stage) + " the core program" + what + " failed: " + reason;
}

const char* ErrnoCode(int err) {
  switch (err < 0 ? -err : err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOTSUP: return "ENOTSUP";
    case E2BIG: return "E2BIG";
    case ESRCH: return "ESRCH";
    default: return "EBPF";
  }
}

Napi::Error ProbeError(Napi::Env env, int err, const char* stage, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoCode(err)));
  error.Set("errno", Napi::Number::New(env, err < 0 ? -err : err));
  error.Set("stage", Napi::String::New(env, stage));
  error.Set("libbpfLog", Napi::String::New(env, LibbpfLogTail()));
  return error;
}

uint64_t SumPerCpu(int fd, uint32_t key, int ncpus) {
  std::vector<uint64_t> values(ncpus > 0 ? ncpus : 1);
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

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

Probe::Probe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Probe>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || info[0].IsUndefined()) return;
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Probe options must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();

  Napi::Value attach = opts.Get("attach");
  if (!attach.IsUndefined()) {
    if (!attach.IsString()) throw Napi::TypeError::New(env, "attach must be a string");
    attach_ = attach.As<Napi::String>().Utf8Value();
    if (attach_ != "auto" && attach_ != "tp_btf" && attach_ != "tracepoint")
      throw Napi::TypeError::New(env, "attach must be auto, tp_btf or tracepoint");
  }
  Napi::Value ring = opts.Get("ringBytes");
  if (!ring.IsUndefined()) {
    double d = ring.IsNumber() ? ring.As<Napi::Number>().DoubleValue() : 0;
    uint64_t n = static_cast<uint64_t>(d);
    if (d != static_cast<double>(n) || n < 4096 || n > (1ull << 30) || (n & (n - 1)))
      throw Napi::TypeError::New(env, "ringBytes must be a power of two from 4096 to 1 GiB");
    ring_bytes_ = static_cast<uint32_t>(n);
  }
  Napi::Value wake = opts.Get("wakeupBytes");
  if (!wake.IsUndefined()) {
    double d = wake.IsNumber() ? wake.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::TypeError::New(env, "wakeupBytes must be a non-negative integer");
    wakeup_bytes_ = static_cast<uint64_t>(d);
  }
  Napi::Value interval = opts.Get("drainIntervalMs");
  if (!interval.IsUndefined()) {
    double d = interval.IsNumber() ? interval.As<Napi::Number>().DoubleValue() : 0;
    if (d < 1 || d > 60000 || d != static_cast<double>(static_cast<uint32_t>(d)))
      throw Napi::TypeError::New(env, "drainIntervalMs must be an integer from 1 to 60000");
    drain_interval_ms_ = static_cast<uint32_t>(d);
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
    pidns_dev_ = static_cast<uint64_t>(whole(dev));
    pidns_ino_ = static_cast<uint64_t>(whole(ino));
  }
  Napi::Value find = opts.Get("findOpenSessions");
  if (!find.IsUndefined()) {
    if (!find.IsBoolean()) throw Napi::TypeError::New(env, "findOpenSessions must be a boolean");
    find_open_ = find.As<Napi::Boolean>().Value();
  }
  Napi::Value io = opts.Get("ownerFromSocketIo");
  if (!io.IsUndefined()) {
    if (!io.IsBoolean()) throw Napi::TypeError::New(env, "ownerFromSocketIo must be a boolean");
    owner_from_io_ = io.As<Napi::Boolean>().Value();
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
      reject_for_test_ |= bit;
    }
  }
}

Probe::~Probe() { Teardown(); }

int Probe::StartCore(Mechanism mechanism, const FilterSpec& filters, const char** stage) {
  bool btf = mechanism == Mechanism::kTpBtf;
  *stage = "opening";
  core_ = std::make_unique<ProgramPart>("core", std::vector<std::string>{btf ? "set_state_btf" : "set_state_tp"});
  int err = core_->Open();
  if (err) return err;

  // Knobs and sizes live in the core's maps; every other part reuses them.
  tcplife_bpf* skel = core_->skel();
  skel->rodata->wakeup_bytes = wakeup_bytes_;
  skel->rodata->pidns_dev = pidns_dev_;
  skel->rodata->pidns_ino = pidns_ino_;
  skel->rodata->reject_for_test = reject_for_test_;
  bpf_map__set_max_entries(skel->maps.events, ring_bytes_);
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
    err = EnsureTracefs(&mounted_tracefs_);
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
      {"owners-from-io", {"owner_on_send", "owner_on_recv"}, owner_from_io_},
      {"open-sessions", {"find_open_owners", "find_open_sessions"}, find_open_},
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

  if (!PathExists("/sys/kernel/btf/vmlinux")) {
    throw ProbeError(env, -ENOENT, "opening",
                     "kernel BTF not found at /sys/kernel/btf/vmlinux: tcplife-otel needs a "
                     "kernel built with CONFIG_DEBUG_INFO_BTF=y (for CO-RE)");
  }

  auto t0 = std::chrono::steady_clock::now();
  LibbpfLogClear();
  const char* stage = "opening";
  std::string tp_btf_refused;  // why auto fell back to the classic tracepoint
  mechanism_ = attach_ == "tracepoint" ? Mechanism::kTracepoint : Mechanism::kTpBtf;
  int err = StartCore(mechanism_, filters, &stage);
  // Fall back only when the BTF tracepoint itself is the problem: missing
  // privileges or a filter the maps refuse would fail the same way twice.
  if (err && attach_ == "auto" && !PermissionError(err, stage) && std::string(stage) != "filtering") {
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
      static_cast<uint8_t*>(batch_view_.Value().Data()), kMaxBatch, drain_interval_ms_,
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
  int ncpus = libbpf_num_possible_cpus();
  int fd = bpf_map__fd(core()->maps.counters);
  for (uint32_t i = 0; i < COUNTER_MAX; i++) kernel_counters_[i] = SumPerCpu(fd, i, ncpus);
  programs_.clear();
  recursion_misses_ = 0;
  owner_recursion_misses_ = 0;
  std::vector<const ProgramPart*> parts{core_.get()};
  for (const auto& part : optional_) parts.push_back(part.get());
  for (const ProgramPart* part : parts) {
    if (!part->on()) continue;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, part->skel()->obj) {
      int pfd = bpf_program__fd(prog);
      if (pfd < 0) continue;  // another part's program
      bpf_prog_info pinfo{};
      uint32_t len = sizeof(pinfo);
      if (bpf_obj_get_info_by_fd(pfd, &pinfo, &len) != 0) continue;
      // A skipped state change can cost a session; a skipped owner check only
      // an owner (the next send/recv or close() supplies it).
      bool owner_check = strncmp(bpf_program__name(prog), "owner_on_", 9) == 0;
      (owner_check ? owner_recursion_misses_ : recursion_misses_) += pinfo.recursion_misses;
      programs_.push_back({bpf_program__name(prog), pinfo.run_cnt, pinfo.run_time_ns,
                           pinfo.recursion_misses});
    }
  }
}

Napi::Value Probe::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadKernelCounters();
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object out = Napi::Object::New(env);
  // Named as in src/sessions/counters.ts; the kernel's own by their slot
  // (the enum in bpf/session_event.h), which that table maps to names.
  Napi::Array kernel = Napi::Array::New(env, COUNTER_MAX);
  for (uint32_t i = 0; i < COUNTER_MAX; i++) kernel.Set(i, num(kernel_counters_[i]));
  out.Set("kernel", kernel);
  // set_state_nested handles what recursion protection hid from set_state_btf;
  // only the rest can cost a session.
  uint64_t handled = kernel_counters_[COUNTER_NESTED_HANDLED];
  out.Set("skipped_state_changes", num(recursion_misses_ > handled ? recursion_misses_ - handled : 0));
  out.Set("skipped_owner_checks", num(owner_recursion_misses_));
  out.Set("malformed_records", num(poller_ ? poller_->malformed() : 0));
  out.Set("sessions_delivered", num(poller_ ? poller_->delivered() : 0));
  out.Set("ringbuf_wakeups", num(poller_ ? poller_->wakeups() : 0));
  Napi::Array programs = Napi::Array::New(env, programs_.size());
  for (uint32_t i = 0; i < programs_.size(); i++) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", Napi::String::New(env, programs_[i].name));
    p.Set("runCount", num(programs_[i].run_count));
    p.Set("runTimeNs", num(programs_[i].run_time_ns));
    p.Set("recursionMisses", num(programs_[i].recursion_misses));
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
  if (mounted_tracefs_) {
    umount2("/sys/kernel/tracing", MNT_DETACH);  // leave the system as we found it
    mounted_tracefs_ = false;
  }
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

static_assert(COUNTER_MAX <= 8, "Probe::kernel_counters_ is too small for COUNTER_MAX");
