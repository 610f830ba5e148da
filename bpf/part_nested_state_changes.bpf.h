/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The twin of set_state_btf for state changes made by an interrupt while it
 * runs on that CPU (the kernel skips nested tp_btf runs).
 * Included by tcplife.bpf.c only: user space loads it as a part of its own
 * (PART_* in session_event.h), sharing the core's maps.
 */
#ifndef TCPLIFE_PART_NESTED_STATE_CHANGES_BPF_H
#define TCPLIFE_PART_NESTED_STATE_CHANGES_BPF_H

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

#endif /* TCPLIFE_PART_NESTED_STATE_CHANGES_BPF_H */
