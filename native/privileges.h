// What the agent needs from the system before the kernel takes its program:
// the capabilities to trace, and tracefs for the classic tracepoint.
#pragma once

#include <cstdint>

// Effective capabilities from /proc/self/status (no libcap dependency).
uint64_t EffectiveCapabilities();
// CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON: enough to load and attach.
bool MayTrace();
// Whether a failure at `stage` is missing privileges, not the kernel
// refusing the program.
bool PermissionError(int err, const char* stage);

// The classic tracepoint needs tracefs, which this kind of machine does not
// mount at boot. Whoever mounted it unmounts it.
class Tracefs {
 public:
  // Returns 0 or a negative errno; mounts only when no tracefs is there.
  int Ensure();
  // Unmounts what Ensure mounted, leaving the system as we found it.
  void Release();

 private:
  bool mounted_ = false;
};
