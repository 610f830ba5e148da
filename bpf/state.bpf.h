/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the program keeps per socket between its birth and its close, where
 * it keeps it (socket storage on tp_btf, an LRU hash on the classic
 * tracepoint), and who owns the socket. Included by tcplife.bpf.c only.
 */
#ifndef TCPLIFE_STATE_BPF_H
#define TCPLIFE_STATE_BPF_H

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

#endif /* TCPLIFE_STATE_BPF_H */
