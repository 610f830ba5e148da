#include "probe_errors.h"

#include <cerrno>
#include <cstring>

#include "libbpf_log.h"
#include "privileges.h"

namespace {

// error.code: the errno's name for the usual ones, EBPF for the rest.
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

}  // namespace

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
    return "tracepoint sock:inet_sock_set_state not found" + what + ": the kernel must be Linux 5.8 or later";
  return std::string(stage) + " the core program" + what + " failed: " + reason;
}

Napi::Error ProbeError(Napi::Env env, int err, const char* stage, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoCode(err)));
  error.Set("errno", Napi::Number::New(env, err < 0 ? -err : err));
  error.Set("stage", Napi::String::New(env, stage));
  error.Set("libbpfLog", Napi::String::New(env, LibbpfLogTail()));
  return error;
}
