#include "privileges.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace {
bool PathExists(const char* path) { return access(path, F_OK) == 0; }
}  // namespace

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

bool PermissionError(int err, const char* stage) {
  int e = err < 0 ? -err : err;
  if (e == EPERM) return true;
  // With the privileges in place, EACCES at load is the verifier saying no.
  return e == EACCES && !(std::string(stage) == "loading" && MayTrace());
}

int Tracefs::Ensure() {
  mounted_ = false;
  if (PathExists("/sys/kernel/tracing/events") || PathExists("/sys/kernel/debug/tracing/events"))
    return 0;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0) return -errno;
  mounted_ = true;
  return 0;
}

void Tracefs::Release() {
  if (!mounted_) return;
  umount2("/sys/kernel/tracing", MNT_DETACH);
  mounted_ = false;
}
