#include "program_part.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>

#include "session_event.h"  // the types the skeleton names
#include "tcplife.skel.h"

int ProgramPart::Open() {
  Destroy();
  skel_ = tcplife_bpf__open();
  if (!skel_) return -errno;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    bool mine = std::find(programs_.begin(), programs_.end(), bpf_program__name(prog)) != programs_.end();
    bpf_program__set_autoload(prog, mine);
  }
  return 0;
}

int ProgramPart::Load(tcplife_bpf* core) {
  if (core) {
    bpf_map* map;
    bpf_object__for_each_map(map, skel_->obj) {
      bpf_map* shared = bpf_object__find_map_by_name(core->obj, bpf_map__name(map));
      if (!shared) return -ENOENT;
      int err = bpf_map__reuse_fd(map, bpf_map__fd(shared));
      if (err) return err;
    }
  }
  return tcplife_bpf__load(skel_);
}

int ProgramPart::Attach() {
  for (const std::string& name : programs_) {
    bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, name.c_str());
    if (!prog) return -ENOENT;
    bpf_link* link = bpf_program__attach(prog);
    if (!link) return -errno;
    links_.emplace_back(name, link);
  }
  on_ = true;
  return 0;
}

bpf_link* ProgramPart::link(const char* program) const {
  for (const auto& [name, link] : links_)
    if (name == program) return link;
  return nullptr;
}

void ProgramPart::Destroy() {
  for (auto& entry : links_) bpf_link__destroy(entry.second);
  links_.clear();
  if (skel_) tcplife_bpf__destroy(skel_);
  skel_ = nullptr;
  on_ = false;
}

void ProgramPart::Fail(int err, const char* stage, const std::string& libbpf_log) {
  Destroy();
  std::string program = FailedProgram(libbpf_log);
  reason_ = std::string(stage) + (program.empty() ? "" : " " + program) + ": " + FailureReason(err, libbpf_log);
  log_ = libbpf_log;
}

std::string FailedProgram(const std::string& libbpf_log) {
  static const std::regex named("prog '([A-Za-z0-9_]+)'");
  std::string program;
  for (auto it = std::sregex_iterator(libbpf_log.begin(), libbpf_log.end(), named); it != std::sregex_iterator(); ++it)
    program = (*it)[1];
  return program;
}

std::string FailureReason(int err, const std::string& libbpf_log) {
  // libbpf's summary lines say only that something failed; the verifier's
  // statistics say nothing about why.
  static const std::regex generic(
      "failed to load object|failed to load BPF skeleton|BPF program load failed|"
      "failed to prepare load attributes|failed to auto-attach|"
      "failed to load: -?[0-9]+$|PROG LOAD LOG|^processed [0-9]+ insns|^verification time|"
      "^stack depth|^peak_states|^mark_read|^-- |^$");
  std::istringstream in(libbpf_log);
  std::string line, in_log, outside;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
      in_block = true;
      in_log.clear();
      continue;
    }
    if (line.find("-- END PROG LOAD LOG --") != std::string::npos) {
      in_block = false;
      continue;
    }
    if (std::regex_search(line, generic)) continue;
    (in_block ? in_log : outside) = line;
  }
  std::string reason = !in_log.empty() ? in_log : outside;
  if (reason.rfind("libbpf: ", 0) == 0) reason.erase(0, 8);
  static const std::regex program_prefix("^prog '[A-Za-z0-9_]+': ");  // the caller names the program
  reason = std::regex_replace(reason, program_prefix, "");
  if (reason.empty()) reason = strerror(err < 0 ? -err : err);
  return reason;
}
