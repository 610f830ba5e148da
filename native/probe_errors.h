// The wording of the probe's failures: what the user reads, and the
// properties JS reads off the error (code, errno, stage, libbpfLog).
#pragma once

#include <napi.h>

#include <string>

// The message for a failure of the core at `stage`; `mechanism` is "tp_btf"
// or "tracepoint" ("" where it does not matter), `reason` the kernel's own
// words (FailureReason in program_part.h).
std::string Explain(int err, const char* stage, const std::string& mechanism, const std::string& reason);

// An Error with `message` and: code (the errno's name, EBPF for the rest),
// errno (positive), stage, and libbpfLog (the log's tail as it is now).
Napi::Error ProbeError(Napi::Env env, int err, const char* stage, const std::string& message);
