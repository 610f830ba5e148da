// The kernel filters: read from JS (FilterSpec), and put in force in the
// kernel program's maps without ever letting a session be judged by a mix of
// two configurations (FilterGenerations). The protocol is described in
// bpf/session_event.h; the kernel side is wanted() in bpf/tcplife.bpf.c.
//
// Header-only: probe.cc is its only user.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <napi.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "session_event.h"
#include "tcplife.skel.h"

// What a filter list holds, as the kernel sees it. Empty = no restriction.
struct FilterSpec {
  // One CIDR: prefix length in IPv6 space (IPv4 + 96), then the address
  // (IPv4 as ::ffff:a.b.c.d), host bits zero.
  using Cidr = std::array<uint8_t, 17>;

  std::set<uint64_t> pids, exclude_pids, local_ports, remote_ports, netns, cgroups;
  std::set<Cidr> local_cidrs, remote_cidrs;
  uint16_t family = 0;  // 0, AF_INET or AF_INET6

  uint32_t Kinds() const {
    uint32_t k = 0;
    if (family) k |= FILTER_FAMILY;
    if (!pids.empty()) k |= FILTER_PIDS;
    if (!exclude_pids.empty()) k |= FILTER_EXCLUDE_PIDS;
    if (!local_ports.empty()) k |= FILTER_LOCAL_PORTS;
    if (!remote_ports.empty()) k |= FILTER_REMOTE_PORTS;
    if (!local_cidrs.empty()) k |= FILTER_LOCAL_CIDRS;
    if (!remote_cidrs.empty()) k |= FILTER_REMOTE_CIDRS;
    if (!netns.empty()) k |= FILTER_NETNS;
    if (!cgroups.empty()) k |= FILTER_CGROUPS;
    return k;
  }
};

namespace kernel_filters {

constexpr uint64_t kMaxPid = 4194304;                // PID_MAX_LIMIT
constexpr uint64_t kMaxSafeInteger = (1ull << 53) - 1;  // JS Number.MAX_SAFE_INTEGER

// A JS array of integers in [lo, hi], at most `max` distinct; TypeError otherwise.
inline std::set<uint64_t> IntegerSet(Napi::Env env, const Napi::Object& obj, const char* key,
                                     uint64_t lo, uint64_t hi, size_t max) {
  std::set<uint64_t> out;
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(key) + " must be an array");
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value item = arr.Get(i);
    double d = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : -1;
    if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) ||
        d > static_cast<double>(hi))
      throw Napi::TypeError::New(env, std::string(key) + " must hold integers " +
                                          std::to_string(lo) + "-" + std::to_string(hi));
    out.insert(static_cast<uint64_t>(d));
  }
  if (out.size() > max)
    throw Napi::RangeError::New(env, std::string(key) + ": at most " + std::to_string(max) +
                                         " entries, got " + std::to_string(out.size()));
  return out;
}

// CIDRs cross as bytes, never text: 17 bytes each (see FilterSpec::Cidr).
inline std::set<FilterSpec::Cidr> CidrSet(Napi::Env env, const Napi::Object& obj, const char* key) {
  std::set<FilterSpec::Cidr> out;
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, std::string(key) + " must be a Uint8Array of 17-byte records");
  Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
  size_t n = bytes.ElementLength();
  if (n % 17 != 0)
    throw Napi::TypeError::New(env, std::string(key) + ": " + std::to_string(n) +
                                        " bytes is not a whole number of 17-byte records");
  for (size_t off = 0; off < n; off += 17) {
    FilterSpec::Cidr c;
    std::memcpy(c.data(), bytes.Data() + off, 17);
    uint8_t prefix = c[0];
    if (prefix > 128)
      throw Napi::TypeError::New(env, std::string(key) + ": prefix length " +
                                          std::to_string(prefix) + " is over 128");
    for (int bit = prefix; bit < 128; bit++)  // host bits: not part of the network
      c[1 + bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    out.insert(c);
  }
  if (out.size() > FILTER_MAX_CIDRS)
    throw Napi::RangeError::New(env, std::string(key) + ": at most " +
                                         std::to_string(FILTER_MAX_CIDRS) + " CIDRs");
  return out;
}

}  // namespace kernel_filters

// Reads a filters object (KernelFilters, CIDRs already binary); a missing
// list means no restriction. Throws a TypeError or RangeError naming the field.
inline FilterSpec ParseFilterSpec(Napi::Env env, const Napi::Object& filters) {
  using namespace kernel_filters;
  FilterSpec s;
  s.pids = IntegerSet(env, filters, "pids", 1, kMaxPid, FILTER_MAX_PIDS);
  s.exclude_pids = IntegerSet(env, filters, "excludePids", 1, kMaxPid, FILTER_MAX_PIDS);
  s.local_ports = IntegerSet(env, filters, "localPorts", 1, 65535, 65535);
  s.remote_ports = IntegerSet(env, filters, "remotePorts", 1, 65535, 65535);
  s.netns = IntegerSet(env, filters, "netns", 1, UINT32_MAX, FILTER_MAX_NETNS);
  s.cgroups = IntegerSet(env, filters, "cgroupIds", 1, kMaxSafeInteger, FILTER_MAX_CGROUPS);
  s.local_cidrs = CidrSet(env, filters, "localCidrs");
  s.remote_cidrs = CidrSet(env, filters, "remoteCidrs");
  Napi::Value fam = filters.Get("family");
  if (!fam.IsUndefined()) {
    double d = fam.IsNumber() ? fam.As<Napi::Number>().DoubleValue() : -1;
    if (d != 0 && d != 4 && d != 6) throw Napi::TypeError::New(env, "family must be 0, 4 or 6");
    s.family = d == 4 ? 2 /* AF_INET */ : d == 6 ? 10 /* AF_INET6 */ : 0;
  }
  return s;
}

// Puts filters in force with two generations (see bpf/session_event.h):
// fill the idle generation, switch filter_gen with one store, wait until no
// program can still be judging by the old one, clear it. One per loaded
// skeleton; only the JS thread calls it.
class FilterGenerations {
 public:
  explicit FilterGenerations(tcplife_bpf* skel) : skel_(skel) {}

  // The generation in force: stamped on every session record it admits.
  uint32_t Active() const { return active_gen_; }

  // Returns 0 or a negative errno. On error the filters in force before the
  // call stay in force. `running`: programs may be executing (attached).
  int Apply(const FilterSpec& next, bool running) {
    uint32_t idle = active_gen_ ^ 1;
    int err;
    if (idle_dirty_) {  // an earlier clear did not happen
      if (running && (err = Fence())) return err;
      if ((err = Clear(idle, idle_members_))) return err;
      idle_dirty_ = false;
    }
    if ((err = Fill(idle, next))) {
      idle_members_ = next;
      idle_dirty_ = Clear(idle, next) != 0;
      return err;
    }
    // The switch: one aligned 4-byte store; everything above is visible first.
    __atomic_store_n(&skel_->bss->filter_gen, idle, __ATOMIC_RELEASE);
    uint32_t old = active_gen_;
    active_gen_ = idle;
    idle_members_ = std::move(active_members_);
    active_members_ = next;
    idle_dirty_ = true;
    // The new filters are in force: if the fence or the clear fails, the old
    // generation is cleared at the next Apply instead.
    if (running && Fence() != 0) return 0;
    idle_dirty_ = Clear(old, idle_members_) != 0;
    return 0;
  }

 private:
  static int Put(int fd, const void* key) {
    uint8_t one = 1;
    return bpf_map_update_elem(fd, key, &one, BPF_ANY) == 0 ? 0 : -errno;
  }
  static int Remove(int fd, const void* key) {
    return bpf_map_delete_elem(fd, key) == 0 || errno == ENOENT ? 0 : -errno;
  }

  // Visits every map key of generation `gen`'s members; stops at an error.
  template <typename Fn>
  static int ForEachKey(uint32_t gen, const FilterSpec& spec, tcplife_bpf* skel, Fn fn) {
    int err = 0;
    auto u32s = [&](bpf_map* map, const std::set<uint64_t>& values) {
      for (uint64_t v : values) {
        if (err) return;
        filter_u32_key key{gen, static_cast<uint32_t>(v)};
        err = fn(bpf_map__fd(map), &key);
      }
    };
    u32s(skel->maps.filter_pids, spec.pids);
    u32s(skel->maps.filter_excluded_pids, spec.exclude_pids);
    u32s(skel->maps.filter_netns, spec.netns);
    for (uint64_t v : spec.cgroups) {
      if (err) break;
      filter_u64_key key{};
      key.gen = gen;
      key.value = v;
      err = fn(bpf_map__fd(skel->maps.filter_cgroups), &key);
    }
    auto cidrs = [&](bpf_map* map, const std::set<FilterSpec::Cidr>& values) {
      for (const FilterSpec::Cidr& c : values) {
        if (err) return;
        filter_cidr_key key{};
        key.prefixlen = 8 + c[0];
        key.gen = static_cast<uint8_t>(gen);
        std::memcpy(key.addr, c.data() + 1, 16);
        err = fn(bpf_map__fd(map), &key);
      }
    };
    cidrs(skel->maps.filter_local_cidrs, spec.local_cidrs);
    cidrs(skel->maps.filter_remote_cidrs, spec.remote_cidrs);
    return err;
  }

  int Fill(uint32_t gen, const FilterSpec& spec) {
    int err = ForEachKey(gen, spec, skel_, Put);
    if (err) return err;
    // Ports and the config live in the program's .bss, mapped into our memory.
    auto* bits = skel_->bss->filter_port_bits[gen];
    std::memset(bits, 0, sizeof(skel_->bss->filter_port_bits[gen]));
    for (uint64_t p : spec.local_ports) bits[0][p / 64] |= 1ull << (p % 64);
    for (uint64_t p : spec.remote_ports) bits[1][p / 64] |= 1ull << (p % 64);
    skel_->bss->filter_cfgs[gen].kinds = spec.Kinds();
    skel_->bss->filter_cfgs[gen].family = spec.family;
    return 0;
  }

  int Clear(uint32_t gen, const FilterSpec& spec) {
    skel_->bss->filter_cfgs[gen] = filter_config{};
    std::memset(skel_->bss->filter_port_bits[gen], 0, sizeof(skel_->bss->filter_port_bits[gen]));
    return ForEachKey(gen, spec, skel_, Remove);
  }

  // Returns once every BPF program running now has finished: the kernel
  // waits for an RCU grace period before a map-in-map update returns.
  int Fence() {
    uint32_t zero = 0;
    int inner = bpf_map__fd(skel_->maps.filter_fence_inner);
    return bpf_map_update_elem(bpf_map__fd(skel_->maps.filter_fence), &zero, &inner, BPF_ANY) == 0
               ? 0
               : -errno;
  }

  tcplife_bpf* skel_;
  uint32_t active_gen_ = 0;  // generation 0 starts empty: no filter
  FilterSpec active_members_;
  FilterSpec idle_members_;  // still in the idle generation while idle_dirty_
  bool idle_dirty_ = false;
};
