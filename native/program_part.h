// One part of the kernel program (PART_* in bpf/session_event.h): its own
// instance of the BPF object that loads only the part's programs. The core
// part creates every map; each optional part reuses the core's maps, so a
// kernel that refuses an optional part (verifier, missing helper, missing
// tracepoint or BTF type, attach error) loses that part alone.
#pragma once

#include <bpf/libbpf.h>

#include <string>
#include <vector>

struct tcplife_bpf;

class ProgramPart {
 public:
  ProgramPart(std::string name, std::vector<std::string> programs)
      : name_(std::move(name)), programs_(std::move(programs)) {}
  ~ProgramPart() { Destroy(); }
  ProgramPart(const ProgramPart&) = delete;
  ProgramPart& operator=(const ProgramPart&) = delete;

  // Opens a fresh instance with only this part's programs to load. Knobs
  // (rodata, map sizes) set on skel() between Open and Load count for the
  // core only: an optional part reuses the core's maps, .rodata included,
  // as the core left them (libbpf neither resizes nor refills a reused map).
  int Open();
  // Loads; every map is `core`'s when given (else this part creates them).
  int Load(tcplife_bpf* core);
  // Attaches each program (iterators too: reading them is the user's job).
  int Attach();
  // Detaches and unloads; the maps live on while another part holds them.
  void Destroy();

  // Leaves the part off, unloaded, for a reason of the agent's own.
  void Skip(std::string reason) {
    Destroy();
    reason_ = std::move(reason);
  }
  // Turns the part off with the kernel's reason, from the libbpf log of
  // the step that failed (kept whole, for --verbose).
  void Fail(int err, const char* stage, const std::string& libbpf_log);

  const std::string& name() const { return name_; }
  tcplife_bpf* skel() const { return skel_; }
  bool on() const { return on_; }
  const std::string& reason() const { return reason_; }
  const std::string& log() const { return log_; }
  // The link of one of this part's programs (nullptr when not attached).
  bpf_link* link(const char* program) const;

 private:
  std::string name_;
  std::vector<std::string> programs_;
  tcplife_bpf* skel_ = nullptr;
  std::vector<std::pair<std::string, bpf_link*>> links_;
  bool on_ = false;
  std::string reason_, log_;
};

// The verifier's or libbpf's own words for a failed load or attach: the last
// line of the verifier log that says what is wrong, else the last specific
// libbpf line, else strerror(err).
std::string FailureReason(int err, const std::string& libbpf_log);
// The program the libbpf log names last ("prog 'NAME': ..."), or "".
std::string FailedProgram(const std::string& libbpf_log);
