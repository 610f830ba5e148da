#include "kernel_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>

#include "program_part.h"
#include "tcplife.skel.h"

namespace {

uint64_t SumPerCpu(int fd, uint32_t key, int ncpus) {
  std::vector<uint64_t> values(ncpus > 0 ? ncpus : 1);
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

}  // namespace

void KernelCounters::Read(tcplife_bpf* core, const std::vector<const ProgramPart*>& parts) {
  int ncpus = libbpf_num_possible_cpus();
  int fd = bpf_map__fd(core->maps.counters);
  for (uint32_t i = 0; i < COUNTER_MAX; i++) slots_[i] = SumPerCpu(fd, i, ncpus);
  programs_.clear();
  recursion_misses_ = 0;
  owner_recursion_misses_ = 0;
  for (const ProgramPart* part : parts) {
    if (!part->on()) continue;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, part->skel()->obj) {
      int pfd = bpf_program__fd(prog);
      if (pfd < 0) continue;  // another part's program
      bpf_prog_info pinfo{};
      uint32_t len = sizeof(pinfo);
      if (bpf_obj_get_info_by_fd(pfd, &pinfo, &len) != 0) continue;
      bool owner_check = strncmp(bpf_program__name(prog), "owner_on_", 9) == 0;
      (owner_check ? owner_recursion_misses_ : recursion_misses_) += pinfo.recursion_misses;
      programs_.push_back({bpf_program__name(prog), pinfo.run_cnt, pinfo.run_time_ns, pinfo.recursion_misses});
    }
  }
}

uint64_t KernelCounters::skipped_state_changes() const {
  uint64_t handled = slots_[COUNTER_NESTED_HANDLED];
  return recursion_misses_ > handled ? recursion_misses_ - handled : 0;
}
