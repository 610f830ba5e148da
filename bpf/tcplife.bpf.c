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
 * The files: kernel_compat.bpf.h (what differs between kernels), state.bpf.h
 * (per-socket state and owners), filters.bpf.h (the kernel filters), this
 * file (the core: a session's life and its record), and one file per
 * optional part (part_*.bpf.h).
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

char LICENSE[] SEC("license") = "GPL";

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

/* Queued bytes at which a submit wakes the reader; below it the reader's
 * timer drains the ring, so a storm costs a few wakeups, not one per event. */
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

#include "kernel_compat.bpf.h"
#include "state.bpf.h"
#include "filters.bpf.h"

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

/* States that exist only after our FIN was queued. */
#define FIN_SENT_STATES ((1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | \
			 (1 << TCP_CLOSING) | (1 << TCP_LAST_ACK))

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
	netns = sock_netns(sk, btf);

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

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	REJECT_IF_TESTED(PART_CORE);
	return on_state_change((struct sock *)ctx->skaddr, ctx->oldstate,
			       ctx->newstate, false);
}

/* The optional parts. */
#include "part_nested_state_changes.bpf.h"
#include "part_owners_from_io.bpf.h"
#include "part_open_sessions.bpf.h"
