/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel filters (the protocol is in session_event.h): their data, set
 * by user space, and the decisions wanted() (at close) and
 * excluded_from_birth() (at birth). Included by tcplife.bpf.c only.
 */
#ifndef TCPLIFE_FILTERS_BPF_H
#define TCPLIFE_FILTERS_BPF_H

/* Filters are data (see session_event.h): two generations, switched by
 * filter_gen. Ports are bitmaps, [generation][local/remote][port / 64]. */
#define PORT_LOCAL 0
#define PORT_REMOTE 1
__u32 filter_gen;
struct filter_config filter_cfgs[2];
__u64 filter_port_bits[2][2][65536 / 64];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * FILTER_MAX_PIDS);
	__type(key, struct filter_u32_key);
	__type(value, __u8);
} filter_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * FILTER_MAX_PIDS);
	__type(key, struct filter_u32_key);
	__type(value, __u8);
} filter_excluded_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * FILTER_MAX_NETNS);
	__type(key, struct filter_u32_key);
	__type(value, __u8);
} filter_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * FILTER_MAX_CGROUPS);
	__type(key, struct filter_u64_key);
	__type(value, __u8);
} filter_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(max_entries, 2 * FILTER_MAX_CIDRS);
	__type(key, struct filter_cidr_key);
	__type(value, __u8);
} filter_local_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * FILTER_MAX_CIDRS);
	__type(key, struct filter_cidr_key);
	__type(value, __u8);
} filter_remote_cidrs SEC(".maps");

/* Never used by a program: updating a map-in-map slot returns to user space
 * only after every BPF program then running has finished (the kernel waits
 * for an RCU grace period). User space does so after switching filter_gen,
 * before it clears the old generation. */
struct filter_fence_slot {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} filter_fence_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct filter_fence_slot);
} filter_fence SEC(".maps") = {
	.values = { &filter_fence_inner },
};

static __always_inline bool in_set(void *set, void *key)
{
	return bpf_map_lookup_elem(set, key) != NULL;
}

static __always_inline bool port_listed(__u32 gen, int dir, __u16 port)
{
	return filter_port_bits[gen][dir][port >> 6] & (1ULL << (port & 63));
}

/* The local or remote address, IPv4 as ::ffff:a.b.c.d, in the trie. */
static __always_inline bool addr_listed(void *trie, __u32 gen, struct sock *sk,
					__u16 family, bool remote, bool btf)
{
	struct filter_cidr_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.prefixlen = 8 + 128;
	key.gen = gen;
	if (family == AF_INET) {
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		copy_addr(btf, &key.addr[12], remote ? (void *)&sk->__sk_common.skc_daddr :
						       (void *)&sk->__sk_common.skc_rcv_saddr, 4);
	} else {
		copy_addr(btf, key.addr, remote ? (void *)&sk->__sk_common.skc_v6_daddr :
						  (void *)&sk->__sk_common.skc_v6_rcv_saddr, 16);
	}
	return in_set(trie, &key);
}

/* The socket's cgroup (set at socket creation, inherited by accepted sockets
 * from their listener) or one of its ancestors is listed. cgroup->ancestors[]
 * holds the whole path from the root (index 0) to the cgroup itself (index
 * level); it is a flexible array of pointers, which BTF loads cannot index,
 * so both program types read it with probe reads. */
static __always_inline bool cgroup_listed(struct sock *sk, __u32 gen, bool btf)
{
	struct filter_u64_key key = { .gen = gen };
	struct cgroup *cg, *anc;
	int level, i;

	cg = sock_cgroup(sk, btf);
	if (!cg)
		return false;
	level = BPF_CORE_READ(cg, level);
	/* the cgroup itself first, then up: one lookup when it is listed */
	for (i = 0; i < FILTER_CGROUP_LEVELS; i++) {
		int at = level - i;

		if (at < 0)
			break;
		anc = NULL;
		bpf_probe_read_kernel(&anc, sizeof(anc),
				      (void *)cg + bpf_core_field_offset(struct cgroup, ancestors) +
					      at * sizeof(anc));
		if (!anc)
			break;
		key.value = BPF_CORE_READ(anc, kn, id);
		if (in_set(&filter_cgroups, &key))
			return true;
	}
	return false;
}

/*
 * Filters are decided at close, when every field is final: a server
 * socket's remote port is still 0 at its birth. filter_gen is read once and
 * everything below uses that generation: a switch in the meantime cannot mix
 * two configurations. With no filter this is two loads and a branch.
 */
static __always_inline bool wanted(struct sock *sk, struct sock_state *st, __u16 family,
				   __u16 lport, __u16 rport, __u32 netns, bool btf, __u32 *gen_out)
{
	__u32 gen = *(volatile __u32 *)&filter_gen & 1;

	*gen_out = gen; /* user space applies its own filters of the same generation */
	struct filter_config *cfg = &filter_cfgs[gen];
	__u32 kinds = cfg->kinds;
	__u32 pid = st ? st->ns_pid : 0; /* PIDs as the agent (and its user) sees them */

	if (!kinds)
		return true;
	if ((kinds & FILTER_FAMILY) && cfg->family != family)
		return false;
	if ((kinds & FILTER_LOCAL_PORTS) && !port_listed(gen, PORT_LOCAL, lport))
		return false;
	if ((kinds & FILTER_REMOTE_PORTS) && !port_listed(gen, PORT_REMOTE, rport))
		return false;
	if (kinds & FILTER_NETNS) {
		struct filter_u32_key key = { .gen = gen, .value = netns };

		if (!in_set(&filter_netns, &key))
			return false;
	}
	if (kinds & FILTER_PIDS) {
		struct filter_u32_key key = { .gen = gen, .value = pid };

		if (!pid || !in_set(&filter_pids, &key))
			return false; /* an unknown owner cannot match a PID */
	}
	if ((kinds & FILTER_EXCLUDE_PIDS) && pid) {
		struct filter_u32_key key = { .gen = gen, .value = pid };

		if (in_set(&filter_excluded_pids, &key))
			return false;
	}
	if ((kinds & FILTER_LOCAL_CIDRS) &&
	    !addr_listed(&filter_local_cidrs, gen, sk, family, false, btf))
		return false;
	if ((kinds & FILTER_REMOTE_CIDRS) &&
	    !addr_listed(&filter_remote_cidrs, gen, sk, family, true, btf))
		return false;
	if ((kinds & FILTER_CGROUPS) && !cgroup_listed(sk, gen, btf))
		return false;
	return true;
}

/*
 * Family and netns never change over a socket's life: a socket they exclude
 * gets no state at all. At close wanted() excludes it again (counted as
 * filtered, not as partial), unless the filters changed meanwhile to let it
 * through: then it is reported as partial, its birth unrecorded.
 */
static __always_inline bool excluded_from_birth(struct sock *sk, bool btf)
{
	__u32 gen = *(volatile __u32 *)&filter_gen & 1;
	struct filter_config *cfg = &filter_cfgs[gen];
	__u32 kinds = cfg->kinds;

	if (!(kinds & (FILTER_FAMILY | FILTER_NETNS)))
		return false;
	if ((kinds & FILTER_FAMILY) && cfg->family != READ(btf, sk, __sk_common.skc_family))
		return true;
	if (kinds & FILTER_NETNS) {
		struct filter_u32_key key = { .gen = gen };

		key.value = sock_netns(sk, btf);
		if (!in_set(&filter_netns, &key))
			return true;
	}
	return false;
}

#endif /* TCPLIFE_FILTERS_BPF_H */
