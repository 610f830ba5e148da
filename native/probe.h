// The kernel probe as a JS class: open -> set knobs -> load -> attach ->
// drain the ring buffer on the event loop -> stop. Shutdown mirrors startup.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "kernel_counters.h"
#include "privileges.h"
#include "probe_options.h"
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

  ProbeOptions options_;

  // state
  std::unique_ptr<ProgramPart> core_;
  std::vector<std::unique_ptr<ProgramPart>> optional_;  // in attach order
  std::unique_ptr<FilterGenerations> filters_;
  Mechanism mechanism_ = Mechanism::kTpBtf;
  Tracefs tracefs_;
  std::unique_ptr<RingPoller> poller_;
  Napi::FunctionReference on_batch_;
  // The records of the current batch; valid only during on_batch_.
  Napi::Reference<Napi::Buffer<uint8_t>> batch_view_;
  std::unique_ptr<Napi::AsyncContext> async_;
  KernelCounters counters_;  // the last reading: it outlives the maps
  // An exception thrown by the JS batch callback, rethrown to whoever drained.
  Napi::Reference<Napi::Value> pending_error_;
};
