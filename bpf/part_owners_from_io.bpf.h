/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Owners of accepted sockets from their first send/recv (Linux 6.3+).
 * Included by tcplife.bpf.c only: user space loads it as a part of its own
 * (PART_* in session_event.h), sharing the core's maps.
 */
#ifndef TCPLIFE_PART_OWNERS_FROM_IO_BPF_H
#define TCPLIFE_PART_OWNERS_FROM_IO_BPF_H

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

#endif /* TCPLIFE_PART_OWNERS_FROM_IO_BPF_H */
