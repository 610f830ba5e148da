// Module entry: the Probe class, the wire layout (so JS can check its
// decoder against the C struct), and the clocks used to convert kernel time.
#include <napi.h>
#include <time.h>

#include <cstddef>
#include <cstdint>

#include "libbpf_log.h"
#include "probe.h"
#include "session_event.h"

namespace {

// Layout guards: the TypeScript decoder hard-codes these, a test compares them.
static_assert(sizeof(session_event) == 176, "session_event size changed: update decode.ts");
static_assert(offsetof(session_event, laddr) % 4 == 0, "addresses must be 4-byte aligned");

#define FIELD(obj, name)                                                         \
  do {                                                                           \
    Napi::Object f = Napi::Object::New(env);                                     \
    f.Set("offset", Napi::Number::New(env, offsetof(session_event, name)));      \
    f.Set("size", Napi::Number::New(env, sizeof(((session_event*)nullptr)->name))); \
    obj.Set(#name, f);                                                           \
  } while (0)

Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object fields = Napi::Object::New(env);
  FIELD(fields, birth_ns);
  FIELD(fields, established_ns);
  FIELD(fields, end_ns);
  FIELD(fields, cookie);
  FIELD(fields, bytes_acked);
  FIELD(fields, bytes_received);
  FIELD(fields, cgroup_id);
  FIELD(fields, bytes_retrans);
  FIELD(fields, pid);
  FIELD(fields, tid);
  FIELD(fields, netns);
  FIELD(fields, snd_una);
  FIELD(fields, rcv_nxt);
  FIELD(fields, ns_pid);
  FIELD(fields, ns_tid);
  FIELD(fields, srtt_us);
  FIELD(fields, mdev_us);
  FIELD(fields, total_retrans);
  FIELD(fields, segs_in);
  FIELD(fields, segs_out);
  FIELD(fields, family);
  FIELD(fields, lport);
  FIELD(fields, rport);
  FIELD(fields, oldstate);
  FIELD(fields, role);
  FIELD(fields, flags);
  FIELD(fields, owner_source);
  FIELD(fields, filter_gen);
  FIELD(fields, error);
  FIELD(fields, laddr);
  FIELD(fields, raddr);
  FIELD(fields, comm);

  Napi::Object constants = Napi::Object::New(env);
  auto c = [&](const char* name, double v) { constants.Set(name, Napi::Number::New(env, v)); };
  c("ROLE_CLIENT", ROLE_CLIENT);
  c("ROLE_SERVER", ROLE_SERVER);
  c("ROLE_UNKNOWN", ROLE_UNKNOWN);
  c("SESSION_F_BIRTH_SEEN", SESSION_F_BIRTH_SEEN);
  c("SESSION_F_ESTABLISHED", SESSION_F_ESTABLISHED);
  c("SESSION_F_OWNER_KNOWN", SESSION_F_OWNER_KNOWN);
  c("SESSION_F_FIN_ACKED", SESSION_F_FIN_ACKED);
  c("SESSION_F_FIN_RECEIVED", SESSION_F_FIN_RECEIVED);
  c("SESSION_F_FOUND_AT_START", SESSION_F_FOUND_AT_START);
  c("OWNER_NONE", OWNER_NONE);
  c("OWNER_CONNECT", OWNER_CONNECT);
  c("OWNER_SOCKET_IO", OWNER_SOCKET_IO);
  c("OWNER_CLOSE", OWNER_CLOSE);
  c("OWNER_FOUND", OWNER_FOUND);

  Napi::Object out = Napi::Object::New(env);
  out.Set("size", Napi::Number::New(env, sizeof(session_event)));
  out.Set("fields", fields);
  out.Set("constants", constants);
  return out;
}

int64_t Ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// One reading of CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) bracketed by two of
// CLOCK_REALTIME: wall = boot + (realtimeNs - bootNs), error <= half the gap.
Napi::Value Clocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t before = Ns(CLOCK_REALTIME);
  int64_t boot = Ns(CLOCK_BOOTTIME);
  int64_t after = Ns(CLOCK_REALTIME);
  Napi::Object out = Napi::Object::New(env);
  out.Set("bootNs", Napi::BigInt::New(env, boot));
  out.Set("realtimeNs", Napi::BigInt::New(env, before + (after - before) / 2));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  LibbpfLogInstall();
  exports.Set("Probe", Probe::Define(env));
  exports.Set("layout", Napi::Function::New(env, Layout));
  exports.Set("clocks", Napi::Function::New(env, Clocks));
  return exports;
}

}  // namespace

NODE_API_MODULE(tcplife, Init)
