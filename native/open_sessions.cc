#include "open_sessions.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "program_part.h"
#include "session_event.h"  // the types the skeleton names
#include "tcplife.skel.h"

namespace {

// Runs one iterator to its end (the programs write nothing: reading drives the walk).
int RunIterator(int iter_fd) {
  char buf[256];
  ssize_t n;
  do {
    n = read(iter_fd, buf, sizeof(buf));
  } while (n > 0 || (n < 0 && errno == EINTR));
  int err = n < 0 ? -errno : 0;
  close(iter_fd);
  return err;
}

// Keys first, then the deletes: restarting the walk after each delete
// would rescan the buckets every time (quadratic in a 65,536-entry map).
void ClearMap(bpf_map* map) {
  int fd = bpf_map__fd(map);
  size_t size = bpf_map__key_size(map);
  std::vector<uint8_t> keys, next(size);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    keys.insert(keys.end(), next.begin(), next.end());
    prev = keys.data() + keys.size() - size;
  }
  for (size_t at = 0; at < keys.size(); at += size) bpf_map_delete_elem(fd, keys.data() + at);
}

// An iterator fd for iter/tcp in the network namespace `netns` (entered
// through /proc/PID/ns/net, then left again), or a negative errno. The tcp
// iterator walks the namespace of whoever creates the fd.
int TcpIteratorIn(bpf_link* link, uint32_t netns, uint32_t pid, int own_ns_fd) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  int ns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) return -errno;
  struct stat st;
  if (fstat(ns_fd, &st) != 0 || st.st_ino != netns) {  // the process left it, or exited and its pid was reused
    close(ns_fd);
    return -ESTALE;
  }
  if (setns(ns_fd, CLONE_NEWNET) != 0) {
    int err = -errno;
    close(ns_fd);
    return err;
  }
  close(ns_fd);
  int iter_fd = bpf_iter_create(bpf_link__fd(link));
  int err = iter_fd < 0 ? -errno : 0;
  // Back home before anything else runs on this thread: the agent's own
  // sockets (export) must be made in its namespace.
  if (setns(own_ns_fd, CLONE_NEWNET) != 0) {
    fprintf(stderr, "tcplife-otel: cannot return to the agent's network namespace: %s\n", strerror(errno));
    abort();
  }
  return err ? err : iter_fd;
}

}  // namespace

int FindOpenSessions(const ProgramPart& part, tcplife_bpf* core, OpenSessionsFound* found) {
  auto t0 = std::chrono::steady_clock::now();
  bpf_link* owners = part.link("find_open_owners");
  bpf_link* sessions = part.link("find_open_sessions");
  if (!owners || !sessions) return -ENOENT;

  int err = 0;
  int iter_fd = bpf_iter_create(bpf_link__fd(owners));
  err = iter_fd < 0 ? -errno : RunIterator(iter_fd);

  struct stat own;
  int own_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (!err && (own_ns_fd < 0 || fstat(own_ns_fd, &own) != 0)) err = -errno;
  if (!err) {
    // The agent's own namespace always (sessions no process holds any more
    // live there too), then every other one pass 1 saw.
    iter_fd = bpf_iter_create(bpf_link__fd(sessions));
    err = iter_fd < 0 ? -errno : RunIterator(iter_fd);
    found->namespaces = err ? 0 : 1;
    int netns_fd = bpf_map__fd(core->maps.open_netns);
    uint32_t netns, next, pid;
    bool first = true;
    while (!err && bpf_map_get_next_key(netns_fd, first ? nullptr : &netns, &next) == 0) {
      first = false;
      netns = next;
      if (netns == own.st_ino || bpf_map_lookup_elem(netns_fd, &netns, &pid) != 0) continue;
      int fd = TcpIteratorIn(sessions, netns, pid, own_ns_fd);
      int walk = fd < 0 ? fd : RunIterator(fd);
      if (!walk) {
        found->namespaces++;
        continue;
      }
      // One namespace lost is not the walk lost: what was found stays found.
      found->namespaces_missed++;
      if (found->missed_reason.empty()) {
        std::string where = "namespace " + std::to_string(netns) + ": ";
        found->missed_reason = walk == -EPERM    ? "entering another network namespace needs CAP_SYS_ADMIN"
                               : walk == -ESTALE ? where + "the process that was in it has left or exited"
                                                 : where + strerror(-walk);
      }
    }
    if (core->bss->open_netns_dropped) {
      found->namespaces_missed += static_cast<uint32_t>(core->bss->open_netns_dropped);
      if (found->missed_reason.empty()) found->missed_reason = "more network namespaces than the search has room for (4096)";
    }
  }
  if (own_ns_fd >= 0) close(own_ns_fd);

  // The owners' socket addresses mean something only during the walk.
  ClearMap(core->maps.open_owners);
  ClearMap(core->maps.open_listeners);
  ClearMap(core->maps.open_netns);
  found->sessions = core->bss->found_sessions;
  found->owners_dropped = core->bss->open_owners_dropped;
  found->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return err;
}
