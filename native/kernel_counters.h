// What the kernel counts, read afresh on demand: the counters map (a
// per-CPU slot for each COUNTER_* of bpf/session_event.h, summed over the
// CPUs) and each loaded program's run statistics, whose recursion misses
// say what the kernel skipped.
#pragma once

#include <linux/types.h>  // for session_event.h

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "session_event.h"

class ProgramPart;
struct tcplife_bpf;

class KernelCounters {
 public:
  struct Program {
    std::string name;
    uint64_t run_count, run_time_ns, recursion_misses;
  };

  // Replaces the last reading: the slots from the core's counters map, the
  // statistics from every program of the parts that are on.
  void Read(tcplife_bpf* core, const std::vector<const ProgramPart*>& parts);

  // By slot; src/sessions/counters.ts maps the slots to names.
  const std::array<uint64_t, COUNTER_MAX>& slots() const { return slots_; }
  // State changes recursion protection hid from set_state_btf that
  // set_state_nested did not handle either: only these can cost a session.
  uint64_t skipped_state_changes() const;
  // Owner checks skipped the same way cost only an owner (the next
  // send/recv or close() supplies it).
  uint64_t skipped_owner_checks() const { return owner_recursion_misses_; }
  const std::vector<Program>& programs() const { return programs_; }

 private:
  std::array<uint64_t, COUNTER_MAX> slots_{};
  uint64_t recursion_misses_ = 0;  // of the state-change programs
  uint64_t owner_recursion_misses_ = 0;
  std::vector<Program> programs_;
};
