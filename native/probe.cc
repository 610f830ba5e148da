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

// The socket-I/O tracepoints came in Linux 6.3; without them the probe still
// works, with fewer known owners. Parsing vmlinux BTF costs ~40 ms: do it once.
bool KernelHasSocketIoTracepoints() {
  struct btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool found = true;
  for (const char* type : {"btf_trace_sock_send_length", "btf_trace_sock_recv_length"})
    found = found && btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) > 0;
  btf__free(vmlinux);
  return found;
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

std::string Explain(int err, const char* stage, const std::string& mechanism) {
  int e = err < 0 ? -err : err;
  std::string msg;
  if (e == EACCES && std::string(stage) == "loading" && MayTrace()) {
    // With the privileges in place, EACCES is the verifier saying no.
    msg = "the kernel's verifier rejected the BPF program (" + mechanism +
          "): run with --verbose to see its log, and report it with your kernel version";
  } else if (e == EPERM || e == EACCES) {
    msg = "permission denied while " + std::string(stage) +
          " the BPF program: run as root, or grant CAP_BPF and CAP_PERFMON "
          "(CAP_SYS_ADMIN on kernels before 5.8)";
  } else if (std::string(stage) == "filtering") {
    msg = "setting the kernel filters failed: " + std::string(strerror(e));
  } else if (e == ENOENT && std::string(stage) == "attaching") {
    msg = "tracepoint sock:inet_sock_set_state not found (" + mechanism +
          "): the kernel must be Linux 4.16 or later";
  } else {
    msg = std::string(stage) + " the BPF program (" + mechanism + ") failed: " + strerror(e);
  }
  return msg;
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
    if (!find_open_) find_open_unavailable_ = "not asked for";
  }
  Napi::Value io = opts.Get("ownerFromSocketIo");
  if (!io.IsUndefined()) {
    if (!io.IsBoolean()) throw Napi::TypeError::New(env, "ownerFromSocketIo must be a boolean");
    owner_from_io_ = io.As<Napi::Boolean>().Value();
  }
}

Probe::~Probe() { Teardown(); }

int Probe::OpenLoadAttach(Mechanism mechanism, const FilterSpec& filters, const char** stage) {
  *stage = "opening";
  skel_ = tcplife_bpf__open();
  if (!skel_) return -errno;

  bool btf = mechanism == Mechanism::kTpBtf;
  skel_->rodata->wakeup_bytes = wakeup_bytes_;
  skel_->rodata->pidns_dev = pidns_dev_;
  skel_->rodata->pidns_ino = pidns_ino_;
  bpf_map__set_max_entries(skel_->maps.events, ring_bytes_);
  // Only the classic tracepoint needs the LRU fallback; keep it tiny otherwise.
  if (btf) bpf_map__set_max_entries(skel_->maps.sk_states_lru, 1);

  owner_io_attached_ = btf && owner_from_io_ && KernelHasSocketIoTracepoints();
  bpf_program__set_autoload(skel_->progs.set_state_btf, btf);
  bpf_program__set_autoload(skel_->progs.set_state_nested, btf);
  bpf_program__set_autoload(skel_->progs.set_state_tp, !btf);
  bpf_program__set_autoload(skel_->progs.owner_on_send, owner_io_attached_);
  bpf_program__set_autoload(skel_->progs.owner_on_recv, owner_io_attached_);
  // Socket storage is what it fills: tp_btf only.
  bpf_program__set_autoload(skel_->progs.find_open_sessions, btf && find_open_);

  *stage = "loading";
  int err = tcplife_bpf__load(skel_);
  if (err) return err;

  // Before attaching: no session is ever judged without them.
  *stage = "filtering";
  filters_ = std::make_unique<FilterGenerations>(skel_);
  err = filters_->Apply(filters, /*running=*/false);
  if (err) return err;

  *stage = "attaching";
  if (!btf) {
    err = EnsureTracefs(&mounted_tracefs_);
    if (err) return err;
  }
  return tcplife_bpf__attach(skel_);
}

Napi::Value Probe::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_) throw Napi::Error::New(env, "probe already started");
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
  int err;
  if (attach_ == "tracepoint") {
    mechanism_ = Mechanism::kTracepoint;
    err = OpenLoadAttach(mechanism_, filters, &stage);
  } else {
    mechanism_ = Mechanism::kTpBtf;
    err = OpenLoadAttach(mechanism_, filters, &stage);
    if (err && find_open_ && std::string(stage) == "loading" && err != -EPERM && err != -EACCES) {
      // Perhaps only the iterator (iter/task_file, bpf_sock_from_file: 5.11)
      // is what this kernel refuses: sessions open at start are then
      // reported only when they close, as before.
      find_open_unavailable_ = std::string("the kernel refused the iterator: ") + strerror(-err);
      find_open_ = false;
      Teardown();
      err = OpenLoadAttach(mechanism_, filters, &stage);
    }
    int e = err < 0 ? -err : err;
    // Fall back only when the BTF tracepoint itself is the problem: a
    // permission error or a filter the maps refuse would fail the same way twice.
    if (err && attach_ == "auto" && e != EPERM && e != EACCES && std::string(stage) != "filtering") {
      Teardown();
      mechanism_ = Mechanism::kTracepoint;
      err = OpenLoadAttach(mechanism_, filters, &stage);
    }
  }
  const char* mech_name = mechanism_ == Mechanism::kTpBtf ? "tp_btf" : "tracepoint";
  if (err) {
    Teardown();
    throw ProbeError(env, err, stage, Explain(err, stage, mech_name));
  }

  on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
  // One buffer for every batch, shared with JS: no allocation per batch.
  batch_view_ = Napi::Persistent(Napi::Buffer<uint8_t>::New(env, kMaxBatch * sizeof(session_event)));
  async_ = std::make_unique<Napi::AsyncContext>(env, "tcplife-otel:ring-buffer");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poller_ = std::make_unique<RingPoller>(
      loop, bpf_map__fd(skel_->maps.events), sizeof(session_event),
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
  result.Set("ownerFromSocketIo", Napi::Boolean::New(env, owner_io_attached_));
  result.Set("attachMs", Napi::Number::New(env, attach_ms));
  return result;
}

// Runs the iterator's two passes (listening ports, then sessions): every
// TCP session open now, and not yet followed, gets state with its owner.
// Returns {found, ms}, or {found: -1, reason} when the iterator is absent.
Napi::Value Probe::FindOpenSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!skel_) throw Napi::Error::New(env, "probe not started");
  Napi::Object result = Napi::Object::New(env);
  bpf_link* link = skel_->links.find_open_sessions;
  if (!link) {
    result.Set("found", Napi::Number::New(env, -1));
    result.Set("reason", Napi::String::New(env, find_open_unavailable_.empty()
                                                    ? "only with tp_btf (socket storage)"
                                                    : find_open_unavailable_));
    return result;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto run_pass = [&](uint32_t pass) -> int {
    skel_->bss->iter_pass = pass;
    int fd = bpf_iter_create(bpf_link__fd(link));
    if (fd < 0) return -errno;
    char buf[256];  // the program writes nothing: read() only drives the walk
    ssize_t n;
    do {
      n = read(fd, buf, sizeof(buf));
    } while (n > 0 || (n < 0 && errno == EINTR));
    int err = n < 0 ? -errno : 0;
    close(fd);
    return err;
  };
  int err = run_pass(0);
  if (!err) err = run_pass(1);
  // The listening ports were needed for the second pass only.
  int map_fd = bpf_map__fd(skel_->maps.open_listeners);
  uint8_t key[8], next[8];
  while (bpf_map_get_next_key(map_fd, nullptr, next) == 0) {
    memcpy(key, next, sizeof(key));
    if (bpf_map_delete_elem(map_fd, key)) break;
  }
  if (err) throw ProbeError(env, err, "finding open sessions", std::string("the iterator failed: ") + strerror(-err));
  result.Set("found", Napi::Number::New(env, static_cast<double>(skel_->bss->found_sessions)));
  result.Set("ms", Napi::Number::New(env, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()));
  return result;
}

Napi::Value Probe::FilterGeneration(const Napi::CallbackInfo& info) {
  if (!filters_) throw Napi::Error::New(info.Env(), "probe not started");
  return Napi::Number::New(info.Env(), filters_->Active());
}

void Probe::SetFilters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!skel_) throw Napi::Error::New(env, "probe not started");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setFilters(filters: object)");
  FilterSpec filters = ParseFilterSpec(env, info[0].As<Napi::Object>());
  int err = filters_->Apply(filters, /*running=*/true);
  if (err) throw ProbeError(env, err, "filtering", Explain(err, "filtering", ""));
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
  if (!skel_) return;  // after stop: keep the last reading
  int ncpus = libbpf_num_possible_cpus();
  int fd = bpf_map__fd(skel_->maps.counters);
  for (uint32_t i = 0; i < COUNTER_MAX; i++) kernel_counters_[i] = SumPerCpu(fd, i, ncpus);
  programs_.clear();
  recursion_misses_ = 0;
  owner_recursion_misses_ = 0;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    int pfd = bpf_program__fd(prog);
    if (pfd < 0) continue;  // not loaded (autoload off)
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

Napi::Value Probe::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadKernelCounters();
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object out = Napi::Object::New(env);
  out.Set("sessionsEmitted", num(kernel_counters_[COUNTER_SESSIONS_EMITTED]));
  out.Set("ringbufFull", num(kernel_counters_[COUNTER_RINGBUF_FULL]));
  out.Set("filtered", num(kernel_counters_[COUNTER_FILTERED]));
  out.Set("birthMissed", num(kernel_counters_[COUNTER_BIRTH_MISSED]));
  out.Set("storageFailed", num(kernel_counters_[COUNTER_STORAGE_FAILED]));
  // set_state_nested handles what recursion protection hid from set_state_btf;
  // only the rest can cost a session.
  uint64_t handled = kernel_counters_[COUNTER_NESTED_HANDLED];
  out.Set("recursionMisses", num(recursion_misses_ > handled ? recursion_misses_ - handled : 0));
  out.Set("nestedHandled", num(handled));
  out.Set("ownerRecursionMisses", num(owner_recursion_misses_));
  out.Set("malformed", num(poller_ ? poller_->malformed() : 0));
  out.Set("delivered", num(poller_ ? poller_->delivered() : 0));
  out.Set("wakeups", num(poller_ ? poller_->wakeups() : 0));
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
  // Mirror of start: stop reading, then detach and unload.
  if (poller_) poller_->Stop();
  if (skel_) {
    ReadKernelCounters();  // the counters outlive the maps
    filters_.reset();
    tcplife_bpf__destroy(skel_);
    skel_ = nullptr;
  }
  if (mounted_tracefs_) {
    umount2("/sys/kernel/tracing", MNT_DETACH);  // leave the system as we found it
    mounted_tracefs_ = false;
  }
}

void Probe::Stop(const Napi::CallbackInfo& info) {
  if (poller_ && skel_) {
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
