// Sessions open when the agent starts: drives the two iterator passes of
// the open-sessions part (find_open_owners, find_open_sessions in
// bpf/tcplife.bpf.c), the second in each network namespace the first found.
#pragma once

#include <cstdint>
#include <string>

class ProgramPart;
struct tcplife_bpf;

struct OpenSessionsFound {
  uint64_t sessions = 0;        // given state (and an owner where a process holds them)
  uint32_t namespaces = 0;      // network namespaces walked
  uint32_t namespaces_missed = 0;  // could not be entered (no CAP_SYS_ADMIN) or gone
  uint64_t owners_dropped = 0;  // no room in open_owners: found without an owner
  std::string missed_reason;    // why a namespace was missed (first reason)
  double ms = 0;
};

// Returns 0 or a negative errno (the walk failed; what was found stays).
int FindOpenSessions(const ProgramPart& part, tcplife_bpf* core, OpenSessionsFound* found);
