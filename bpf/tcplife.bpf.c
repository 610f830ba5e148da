// SPDX-License-Identifier: GPL-2.0
/*
 * tcplife-otel kernel program: follows each TCP socket from its first state
 * (SYN_SENT or SYN_RECV) to TCP_CLOSE and writes one session_event to a ring
 * buffer when it closes.
 *
 * Two attach mechanisms share one body: tp_btf/inet_sock_set_state (per-socket
 * storage freed with the socket) and, where BTF tracepoints are unavailable,
 * the classic sock:inet_sock_set_state tracepoint (an LRU hash keyed by the
 * socket pointer, reset at every birth so a reused pointer starts clean).
 *
 * User space loads this object once per part (PART_* in session_event.h):
 * the core with its maps, then each optional part with only its programs and
 * the core's maps, so a kernel that refuses one part loses only that part.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "session_event.h"

#define AF_INET 2
#define AF_INET6 10
#define EEXIST 17 /* errno: the key is there already */
#define E2BIG 7   /* errno: a full map */

char LICENSE[] SEC("license") = "GPL";

/* What we keep per socket between its birth and its close. */
struct sock_state {
	__u64 birth_ns;
	__u64 established_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 ns_pid; /* pid and tid in the agent's PID namespace; 0 outside it */
	__u32 ns_tid;
	__u8 role;
	__u8 flags;
	__u8 owner_source;
	__u8 _pad[5];
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} sk_states SEC(".maps");

/* Fallback for the classic tracepoint, which cannot use socket storage.
 * user space sizes it to 1 entry when tp_btf is in use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_state);
} sk_states_lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space may resize before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

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

/* Queued bytes at which a submit wakes the reader; below it the reader's
 * timer drains the ring, so a storm costs a few wakeups, not one per event. */
/* States that exist only after our FIN was queued. */
#define FIN_SENT_STATES ((1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | \
			 (1 << TCP_CLOSING) | (1 << TCP_LAST_ACK))

const volatile __u64 wakeup_bytes = 64 * 1024;

/* The agent's PID namespace (nsfs device and inode) when it is not the
 * initial one, e.g. in a pod: owners are then also recorded as that
 * namespace sees them. 0: the agent sees host pids, ns_pid = pid. */
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

/* Parts (PART_*) that tests make the verifier reject; 0 in real use. */
const volatile __u32 reject_for_test = 0;

static __always_inline void count(__u32 which)
{
	__u64 *slot = bpf_map_lookup_elem(&counters, &which);

	if (slot)
		*slot += 1; /* per-CPU slot: no atomics needed */
}

/* A hash map value used without its NULL check: the verifier refuses the
 * program that reaches this ("invalid mem access 'map_value_or_null'"),
 * exactly as it refuses a real error. (An array's value would not do: newer
 * verifiers know a constant in-range key always finds one.) Reached only
 * when reject_for_test names the part. */
static __always_inline int rejected_for_test(void)
{
	struct filter_u32_key key = {};
	__u8 *member = bpf_map_lookup_elem(&filter_pids, &key);

	return *member & 1;
}

#define REJECT_IF_TESTED(part)                      \
	do {                                            \
		if (reject_for_test & (part))           \
			return rejected_for_test();     \
	} while (0)

/* Per-socket state: socket storage on tp_btf, the LRU hash otherwise.
 * `btf` is a compile-time constant in each caller, so each program only
 * contains the helper calls its program type allows. */
static __always_inline struct sock_state *state_lookup(struct sock *sk, bool btf)
{
	__u64 key = (__u64)sk;

	if (btf)
		return bpf_sk_storage_get(&sk_states, sk, 0, 0);
	return bpf_map_lookup_elem(&sk_states_lru, &key);
}

static __always_inline struct sock_state *state_create(struct sock *sk, bool btf)
{
	static const struct sock_state empty = {};
	__u64 key = (__u64)sk;
	struct sock_state *st;

	if (btf) {
		st = bpf_sk_storage_get(&sk_states, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	} else {
		bpf_map_update_elem(&sk_states_lru, &key, &empty, BPF_ANY);
		st = bpf_map_lookup_elem(&sk_states_lru, &key);
	}
	if (!st)
		count(COUNTER_STORAGE_FAILED);
	return st;
}

static __always_inline void state_delete(struct sock *sk, bool btf)
{
	__u64 key = (__u64)sk;

	if (btf)
		bpf_sk_storage_delete(&sk_states, sk);
	else
		bpf_map_delete_elem(&sk_states_lru, &key);
}

/* Only called where the current task is the socket's user: a system call. */
static __always_inline void take_owner(struct sock_state *st, __u8 source)
{
	__u64 id = bpf_get_current_pid_tgid();

	st->pid = id >> 32;
	st->tid = (__u32)id;
	if (pidns_ino) {
		struct bpf_pidns_info ns;

		/* fails (ns zeroed) when the task is not in exactly that namespace */
		if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
			ns.tgid = ns.pid = 0;
		st->ns_pid = ns.tgid;
		st->ns_tid = ns.pid;
	} else {
		st->ns_pid = st->pid;
		st->ns_tid = st->tid;
	}
	st->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(st->comm, sizeof(st->comm));
	st->owner_source = source;
	st->flags |= SESSION_F_OWNER_KNOWN;
}

/* tp_btf hands the program a trusted BTF pointer: fields are plain loads.
 * The classic tracepoint hands it a bare address: every read is a
 * bpf_probe_read_kernel call. `btf` is a compile-time constant in each
 * program, so only one form is compiled into each. */
#define READ(btf, ptr, field) ((btf) ? (ptr)->field : BPF_CORE_READ(ptr, field))

static __always_inline void copy_addr(bool btf, __u8 *dst, const void *src, __u32 size)
{
	if (btf)
		__builtin_memcpy(dst, src, size);
	else
		bpf_probe_read_kernel(dst, size, src);
}

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

	if (!bpf_core_field_exists(sk->sk_cgrp_data))
		return false; /* kernel without socket cgroup data */
	cg = READ(btf, sk, sk_cgrp_data.cgroup);
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

		key.value = btf ? sk->__sk_common.skc_net.net->ns.inum :
				  BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		if (!in_set(&filter_netns, &key))
			return true;
	}
	return false;
}

static __always_inline void emit_session(struct sock *sk, struct sock_state *st,
					 int oldstate, bool btf)
{
	/* tcp_sock fields lie beyond struct sock: on tp_btf the verifier only
	 * allows them through the checked cast. */
	struct tcp_sock *tp = btf ? bpf_skc_to_tcp_sock(sk) : (struct tcp_sock *)sk;
	struct session_event *e;
	__u16 family, lport, rport;
	__u32 netns, gen;
	long wake;

	if (!tp)
		return;
	family = READ(btf, sk, __sk_common.skc_family);
	/* not skc_num: the tracepoint runs after inet_put_port() zeroed it */
	lport = bpf_ntohs(READ(btf, tp, inet_conn.icsk_inet.inet_sport));
	rport = bpf_ntohs(READ(btf, sk, __sk_common.skc_dport));
	netns = btf ? sk->__sk_common.skc_net.net->ns.inum :
		      BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);

	if (!wanted(sk, st, family, lport, rport, netns, btf, &gen)) {
		count(COUNTER_FILTERED);
		return;
	}
	if (!st || !(st->flags & SESSION_F_BIRTH_SEEN))
		count(COUNTER_BIRTH_MISSED); /* reported, marked partial */

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL);
		return;
	}

	e->end_ns = bpf_ktime_get_boot_ns();
	/* the cookie helper exists for BTF programs only */
	e->cookie = btf ? bpf_get_socket_cookie(sk) : 0;
	e->family = family;
	e->lport = lport;
	e->rport = rport;
	e->oldstate = oldstate;
	e->netns = netns;
	e->bytes_acked = READ(btf, tp, bytes_acked);
	e->bytes_received = READ(btf, tp, bytes_received);
	e->snd_una = READ(btf, tp, snd_una);
	e->rcv_nxt = READ(btf, tp, rcv_nxt);
	e->srtt_us = READ(btf, tp, srtt_us);
	e->mdev_us = READ(btf, tp, mdev_us);
	e->total_retrans = READ(btf, tp, total_retrans);
	e->bytes_retrans = READ(btf, tp, bytes_retrans);
	e->segs_in = READ(btf, tp, segs_in);
	e->segs_out = READ(btf, tp, segs_out);
	e->error = READ(btf, sk, sk_err);
	e->filter_gen = gen;
	if (family == AF_INET) {
		__builtin_memset(e->laddr, 0, sizeof(e->laddr));
		__builtin_memset(e->raddr, 0, sizeof(e->raddr));
		copy_addr(btf, e->laddr, &sk->__sk_common.skc_rcv_saddr, 4);
		copy_addr(btf, e->raddr, &sk->__sk_common.skc_daddr, 4);
	} else {
		/* the remote address is skc_v6_daddr: the seed read saddr twice */
		copy_addr(btf, e->laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		copy_addr(btf, e->raddr, &sk->__sk_common.skc_v6_daddr, 16);
	}

	if (st) {
		e->birth_ns = st->birth_ns;
		e->established_ns = st->established_ns;
		e->cgroup_id = st->cgroup_id;
		e->pid = st->pid;
		e->tid = st->tid;
		e->ns_pid = st->ns_pid;
		e->ns_tid = st->ns_tid;
		e->role = st->role;
		e->flags = st->flags;
		e->owner_source = st->owner_source;
		__builtin_memcpy(e->comm, st->comm, sizeof(e->comm));
	} else {
		/* closed before we ever saw it: report it, marked partial */
		e->birth_ns = 0;
		e->established_ns = 0;
		e->cgroup_id = 0;
		e->pid = 0;
		e->tid = 0;
		e->ns_pid = 0;
		e->ns_tid = 0;
		e->role = ROLE_UNKNOWN;
		e->flags = 0;
		e->owner_source = OWNER_NONE;
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	}

	/* FINs take a sequence number: say whether each was counted, so user
	 * space can report payload bytes exactly. */
	if (((1 << oldstate) & FIN_SENT_STATES) && e->snd_una == READ(btf, tp, write_seq))
		e->flags |= SESSION_F_FIN_ACKED;
	if (READ(btf, sk, __sk_common.skc_flags) & (1UL << SOCK_DONE)) /* set by tcp_fin() */
		e->flags |= SESSION_F_FIN_RECEIVED;

	wake = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, wake);
	count(COUNTER_SESSIONS_EMITTED);
}

static __always_inline int on_state_change(struct sock *sk, int oldstate,
					   int newstate, bool btf)
{
	struct sock_state *st;

	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
	case TCP_CLOSE:
		break;
	default:
		return 0; /* FIN_WAIT2, CLOSE_WAIT, CLOSING...: nothing to record */
	}
	if (READ(btf, sk, sk_protocol) != IPPROTO_TCP)
		return 0; /* MPTCP parent sockets pass here too */

	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
		if (excluded_from_birth(sk, btf)) {
			if (!btf)
				state_delete(sk, btf); /* what a previous use of the pointer left */
			return 0;
		}
		/* birth: overwrite whatever a previous use of this socket left */
		st = state_create(sk, btf);
		if (!st)
			return 0;
		__builtin_memset(st, 0, sizeof(*st));
		st->birth_ns = bpf_ktime_get_boot_ns();
		st->flags = SESSION_F_BIRTH_SEEN;
		if (newstate == TCP_SYN_SENT) {
			st->role = ROLE_CLIENT;
			take_owner(st, OWNER_CONNECT); /* in connect(): the caller */
		} else {
			st->role = ROLE_SERVER; /* softirq: owner unknown yet */
		}
		return 0;
	case TCP_ESTABLISHED:
		st = state_lookup(sk, btf);
		if (st && !st->established_ns) {
			st->established_ns = bpf_ktime_get_boot_ns();
			st->flags |= SESSION_F_ESTABLISHED;
		}
		return 0;
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		/* close() or shutdown() by the socket's user. A session older than
		 * the agent gets state here, so its owner is still known at close. */
		st = state_lookup(sk, btf);
		if (!st) {
			if (excluded_from_birth(sk, btf))
				return 0;
			st = state_create(sk, btf);
			if (!st)
				return 0;
			__builtin_memset(st, 0, sizeof(*st));
			st->role = ROLE_UNKNOWN;
		}
		if (!(st->flags & SESSION_F_OWNER_KNOWN))
			take_owner(st, OWNER_CLOSE);
		return 0;
	case TCP_CLOSE:
		if (oldstate == TCP_LISTEN || oldstate == TCP_CLOSE)
			return 0; /* a listener, or a socket that never connected */
		st = state_lookup(sk, btf);
		emit_session(sk, st, oldstate, btf);
		if (st)
			state_delete(sk, btf);
		return 0;
	}
	return 0;
}

/*
 * The kernel runs a tp_btf program at most once at a time per CPU: a state
 * change made by an interrupt that arrives while set_state_btf runs (say, in
 * connect()) is skipped for it, counted only as a recursion miss. So a second
 * program on the same hook takes over exactly then: it does nothing unless
 * set_state_btf is busy on its CPU.
 */
#define MAX_CPUS 4096
__u8 state_prog_busy[MAX_CPUS];

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, struct sock *sk, int oldstate, int newstate)
{
	__u32 cpu = bpf_get_smp_processor_id();

	REJECT_IF_TESTED(PART_CORE);
	if (cpu >= MAX_CPUS)
		return on_state_change(sk, oldstate, newstate, true);
	state_prog_busy[cpu] = 1;
	on_state_change(sk, oldstate, newstate, true);
	state_prog_busy[cpu] = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_nested, struct sock *sk, int oldstate, int newstate)
{
	__u32 cpu = bpf_get_smp_processor_id();

	REJECT_IF_TESTED(PART_NESTED_STATE_CHANGES);
	if (cpu >= MAX_CPUS || !state_prog_busy[cpu])
		return 0; /* the usual case: set_state_btf handles it */
	count(COUNTER_NESTED_HANDLED);
	return on_state_change(sk, oldstate, newstate, true);
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	REJECT_IF_TESTED(PART_CORE);
	return on_state_change((struct sock *)ctx->skaddr, ctx->oldstate,
			       ctx->newstate, false);
}

/* Better evidence for accepted sockets: their first sendmsg/recvmsg runs in
 * the owning process. Only a lookup: sockets we do not follow cost nothing. */
static __always_inline int owner_from_io(struct sock *sk)
{
	struct sock_state *st;
	__u16 family;

	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0; /* protocol numbers are per family */
	st = bpf_sk_storage_get(&sk_states, sk, 0, 0);
	if (st && !(st->flags & SESSION_F_OWNER_KNOWN))
		take_owner(st, OWNER_SOCKET_IO);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(owner_on_send, struct sock *sk, int ret, int flags)
{
	REJECT_IF_TESTED(PART_OWNERS_FROM_IO);
	return owner_from_io(sk);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(owner_on_recv, struct sock *sk, int ret, int flags)
{
	REJECT_IF_TESTED(PART_OWNERS_FROM_IO);
	return owner_from_io(sk);
}

/*
 * Sessions already open when the agent starts, found once right after the
 * core attached, and given state as if born then (SESSION_F_FOUND_AT_START).
 *
 * Pass 1, iter/task_file, walks every process's open files: the owner of
 * each TCP socket (keyed by the socket's address), the listening ports, and
 * one process per network namespace. A socket reached from a file is an
 * untrusted pointer on current kernels: no helper takes it, so this pass
 * only reads it.
 * Pass 2, iter/tcp, walks the TCP sockets of one network namespace (user
 * space runs it in each namespace pass 1 named): its socket is trusted, so
 * it creates the socket storage, with the role (a session on a listening
 * port of its namespace was accepted) and the owner pass 1 found. A socket
 * born since the core attached has storage already and is left alone.
 */
struct open_owner {
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 ns_pid;
	__u32 _pad;
	char comm[TASK_COMM_LEN];
};

struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

#define MAX_OPEN_OWNERS 65536
#define MAX_OPEN_NETNS 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_OPEN_OWNERS);
	__type(key, __u64); /* the socket's address: valid for the two passes only */
	__type(value, struct open_owner);
} open_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct listener_key);
	__type(value, __u8);
} open_listeners SEC(".maps");

/* netns inode -> a process in it (as the agent's PID namespace numbers it),
 * whose /proc/PID/ns/net lets user space enter the namespace for pass 2. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_OPEN_NETNS);
	__type(key, __u32);
	__type(value, __u32);
} open_netns SEC(".maps");

__u64 found_sessions;
__u64 open_owners_dropped; /* owners pass 1 had no room for: found without owner */
__u64 open_netns_dropped;  /* namespaces pass 1 had no room for: not searched */

/* Pid namespaces nest at most this deep (the kernel's MAX_PID_NS_LEVEL). */
#define MAX_PID_NS_LEVEL 32

/* The task's process id as the agent's PID namespace sees it; 0 outside
 * it. A pid holds one number per namespace level, from the initial one down
 * to the task's own: the one whose namespace is the agent's is ours. */
static __always_inline __u32 ns_tgid_of(struct task_struct *task)
{
	struct pid *pid;
	struct upid up;
	unsigned int level;

	if (!pidns_ino)
		return BPF_CORE_READ(task, tgid);
	pid = BPF_CORE_READ(task, group_leader, thread_pid);
	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	for (unsigned int i = 0; i < MAX_PID_NS_LEVEL && i <= level; i++) {
		if (bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[i]))
			return 0;
		if (BPF_CORE_READ(up.ns, ns.inum) == pidns_ino)
			return up.nr;
	}
	return 0;
}

SEC("iter/task_file")
int find_open_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct listener_key lkey = {};
	struct open_owner owner = {};
	struct socket *sock;
	struct sock *sk;
	__u64 key;
	__u16 family;
	__u8 state, one = 1;
	long err;

	REJECT_IF_TESTED(PART_OPEN_SESSIONS);
	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk; /* loads only: see above */
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (excluded_from_birth(sk, true))
		return 0; /* e.g. another pod's namespace */
	state = sk->__sk_common.skc_state;
	lkey.netns = sk->__sk_common.skc_net.net->ns.inum;
	lkey.port = sk->__sk_common.skc_num;
	owner.ns_pid = ns_tgid_of(task);
	/* A way into the socket's namespace for pass 2: a process that is in it
	 * now (one may hold a socket of a namespace it has left). Listeners
	 * count: connections not yet accepted live in their namespace too. */
	if (owner.ns_pid && BPF_CORE_READ(task, nsproxy, net_ns, ns.inum) == lkey.netns &&
	    bpf_map_update_elem(&open_netns, &lkey.netns, &owner.ns_pid, BPF_NOEXIST) == -E2BIG)
		open_netns_dropped++;
	if (state == TCP_LISTEN) {
		bpf_map_update_elem(&open_listeners, &lkey, &one, BPF_ANY);
		return 0;
	}
	if (state == TCP_CLOSE)
		return 0;

	/* a thread with a file table of its own is visited too: tgid is its process */
	owner.pid = task->tgid;
	owner.tid = task->pid;
	owner.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&owner.comm, task, comm);
	key = (__u64)sk;
	/* a socket shared by several processes: the first one found owns it */
	err = bpf_map_update_elem(&open_owners, &key, &owner, BPF_NOEXIST);
	if (err && err != -EEXIST)
		open_owners_dropped++;
	return 0;
}

SEC("iter/tcp")
int find_open_sessions(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct listener_key lkey = {};
	struct open_owner *owner;
	struct sock_state *st;
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 key;
	__u16 family;
	__u8 state;

	REJECT_IF_TESTED(PART_OPEN_SESSIONS);
	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc); /* NULL for request and time-wait sockets */
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	state = sk->__sk_common.skc_state;
	if (state == TCP_LISTEN || state == TCP_CLOSE || state == TCP_SYN_RECV)
		return 0;
	if (excluded_from_birth(sk, true))
		return 0;
	st = bpf_sk_storage_get(&sk_states, tp, 0, 0);
	if (st)
		return 0; /* born since the core attached */
	st = bpf_sk_storage_get(&sk_states, tp, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		count(COUNTER_STORAGE_FAILED);
		return 0;
	}
	if (st->flags)
		return 0; /* a state change got there first */
	st->birth_ns = bpf_ktime_get_boot_ns();
	st->flags = SESSION_F_FOUND_AT_START;
	if (state != TCP_SYN_SENT)
		st->flags |= SESSION_F_ESTABLISHED; /* when is unknown: established_ns stays 0 */
	lkey.netns = sk->__sk_common.skc_net.net->ns.inum;
	lkey.port = sk->__sk_common.skc_num;
	st->role = state == TCP_SYN_SENT || !bpf_map_lookup_elem(&open_listeners, &lkey) ? ROLE_CLIENT : ROLE_SERVER;

	key = (__u64)sk;
	owner = bpf_map_lookup_elem(&open_owners, &key);
	if (owner) { /* else no process holds it (closed, finishing) or no room */
		st->pid = owner->pid;
		st->tid = owner->tid;
		st->ns_pid = owner->ns_pid;
		st->ns_tid = owner->ns_pid;
		st->cgroup_id = owner->cgroup_id;
		__builtin_memcpy(st->comm, owner->comm, sizeof(st->comm));
		st->owner_source = OWNER_FOUND;
		st->flags |= SESSION_F_OWNER_KNOWN;
	}
	found_sessions++;
	return 0;
}
