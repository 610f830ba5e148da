#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>

namespace {
// libbpf's print callback is process-wide, so its buffer is too.
constexpr size_t kKeep = 16 * 1024;
std::string g_log;

int Collect(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  if (n > 0) g_log.append(line, n < static_cast<int>(sizeof(line)) ? n : sizeof(line) - 1);
  if (g_log.size() > 2 * kKeep) g_log.erase(0, g_log.size() - kKeep);
  return n;
}
}  // namespace

void LibbpfLogInstall() { libbpf_set_print(Collect); }
void LibbpfLogClear() { g_log.clear(); }
std::string LibbpfLogTail() {
  return g_log.size() > kKeep ? g_log.substr(g_log.size() - kKeep) : g_log;
}
