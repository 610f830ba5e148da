/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sessions open when the agent starts: two iterator passes.
 * Included by tcplife.bpf.c only: user space loads it as a part of its own
 * (PART_* in session_event.h), sharing the core's maps.
 */
#ifndef TCPLIFE_PART_OPEN_SESSIONS_BPF_H
#define TCPLIFE_PART_OPEN_SESSIONS_BPF_H

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
	lkey.netns = sock_netns(sk, true);
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
	lkey.netns = sock_netns(sk, true);
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

#endif /* TCPLIFE_PART_OPEN_SESSIONS_BPF_H */
