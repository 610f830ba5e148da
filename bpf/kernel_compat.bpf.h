/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels this program runs on, in one place: each
 * accessor says what changed, in which kernel, and what is done about it.
 * Included by tcplife.bpf.c only.
 *
 *   5.8   ring buffer, bpf_ktime_get_boot_ns: the oldest kernel the core supports
 *   5.9   iter/tcp (open-sessions part)
 *   5.11  bpf_sk_storage_get from tracing programs (tp_btf): before it only
 *         the classic-tracepoint core (LRU state) can run; bpf_sock_from_file
 *         (open-sessions part)
 *   5.15  sock_cgroup_data.cgroup (sock_cgroup below)
 *   6.3   tracepoints sock_send_length/sock_recv_length (owners-from-io part)
 *   6.18  bpf_sock_from_file returns an untrusted pointer that no helper
 *         takes (seen on 6.18.44): the open-sessions part only reads it and
 *         creates state from iter/tcp's trusted socket instead
 */
#ifndef TCPLIFE_KERNEL_COMPAT_BPF_H
#define TCPLIFE_KERNEL_COMPAT_BPF_H

#define AF_INET 2
#define AF_INET6 10
#define EEXIST 17 /* errno: the key is there already */
#define E2BIG 7   /* errno: a full map */

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

/* The socket's network namespace inode. */
static __always_inline __u32 sock_netns(struct sock *sk, bool btf)
{
	return btf ? sk->__sk_common.skc_net.net->ns.inum : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The socket's cgroup v2, or NULL. Since 5.15 sock_cgroup_data holds the
 * cgroup pointer as a field of its own; before, it was packed into a tagged
 * value with no field to relocate: there NULL, so a cgroup filter matches no
 * session (not verified on such a kernel). */
static __always_inline struct cgroup *sock_cgroup(struct sock *sk, bool btf)
{
	if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return NULL;
	return READ(btf, sk, sk_cgrp_data.cgroup);
}

#endif /* TCPLIFE_KERNEL_COMPAT_BPF_H */
