#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace {
// libbpf's print callback is process-wide, so its buffer is too.
constexpr size_t kKeep = 64 * 1024;
std::string g_log;

int Collect(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // One message can be a whole verifier log, whose last lines say why.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), format, args);
  line.resize(static_cast<size_t>(n));
  g_log += line;
  if (g_log.size() > 2 * kKeep) g_log.erase(0, g_log.size() - kKeep);
  return n;
}
}  // namespace

void LibbpfLogInstall() { libbpf_set_print(Collect); }
void LibbpfLogClear() { g_log.clear(); }
std::string LibbpfLogTail() {
  return g_log.size() > kKeep ? g_log.substr(g_log.size() - kKeep) : g_log;
}
