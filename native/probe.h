// The kernel probe as a JS class: open -> set knobs -> load -> attach ->
// drain the ring buffer on the event loop -> stop. Shutdown mirrors startup.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "program_part.h"
#include "ring_poller.h"

struct tcplife_bpf;
struct FilterSpec;
class FilterGenerations;

class Probe : public Napi::ObjectWrap<Probe> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Probe(const Napi::CallbackInfo& info);
  ~Probe() override;

 private:
  enum class Mechanism { kTpBtf, kTracepoint };

  Napi::Value Start(const Napi::CallbackInfo& info);
  void SetFilters(const Napi::CallbackInfo& info);
  Napi::Value FilterGeneration(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value FindOpenSessions(const Napi::CallbackInfo& info);
  void Stop(const Napi::CallbackInfo& info);

  // The core part: returns 0 or a negative errno; *stage names the step
  // that failed. The filters are in force before the program is attached.
  int StartCore(Mechanism mechanism, const FilterSpec& filters, const char** stage);
  // Each optional part loads and attaches alone; a failure turns it off.
  void StartOptionalParts();
  ProgramPart* OptionalPart(const std::string& name) const;
  tcplife_bpf* core() const { return core_ ? core_->skel() : nullptr; }
  void Teardown();
  void DeliverBatch(size_t records);
  void DrainFromLoop();
  void ReadKernelCounters();

  struct ProgramStats {
    std::string name;
    uint64_t run_count, run_time_ns, recursion_misses;
  };

  // options
  std::string attach_ = "auto";
  uint32_t ring_bytes_ = 8u << 20;
  uint64_t wakeup_bytes_ = 64u << 10;
  uint64_t pidns_dev_ = 0;  // 0/0: the agent is in the initial PID namespace
  uint64_t pidns_ino_ = 0;
  uint32_t drain_interval_ms_ = 50;
  bool owner_from_io_ = true;
  bool find_open_ = true;
  uint32_t reject_for_test_ = 0;  // PART_* bits: tests only

  // state
  std::unique_ptr<ProgramPart> core_;
  std::vector<std::unique_ptr<ProgramPart>> optional_;  // in attach order
  std::unique_ptr<FilterGenerations> filters_;
  Mechanism mechanism_ = Mechanism::kTpBtf;
  bool mounted_tracefs_ = false;
  std::unique_ptr<RingPoller> poller_;
  Napi::FunctionReference on_batch_;
  // The records of the current batch; valid only during on_batch_.
  Napi::Reference<Napi::Buffer<uint8_t>> batch_view_;
  std::unique_ptr<Napi::AsyncContext> async_;
  uint64_t kernel_counters_[8] = {};  // >= COUNTER_MAX, checked in probe.cc
  uint64_t recursion_misses_ = 0;
  uint64_t owner_recursion_misses_ = 0;
  std::vector<ProgramStats> programs_;
  // An exception thrown by the JS batch callback, rethrown to whoever drained.
  Napi::Reference<Napi::Value> pending_error_;
};
