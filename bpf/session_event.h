/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire contract between the kernel program and user space: one
 * session_event per TCP session, written to the ring buffer when the
 * session reaches TCP_CLOSE. Plain fixed-width types only, so this header
 * compiles both with vmlinux.h (BPF side) and with <linux/types.h> (addon).
 * The addon exports sizeof/offsetof of every field, and a test checks the
 * TypeScript decoder against them.
 */
#ifndef TCPLIFE_SESSION_EVENT_H
#define TCPLIFE_SESSION_EVENT_H

#define TASK_COMM_LEN 16

/* Who opened the session. */
enum session_role {
	ROLE_CLIENT = 1, /* first state seen was SYN_SENT: this host connected */
	ROLE_SERVER = 2, /* first state seen was SYN_RECV: this host accepted */
	ROLE_UNKNOWN = 3, /* birth not observed */
};

/* session_event.flags */
#define SESSION_F_BIRTH_SEEN 0x01  /* birth_ns is the real first state */
#define SESSION_F_ESTABLISHED 0x02 /* reached ESTABLISHED (handshake done) */
#define SESSION_F_OWNER_KNOWN 0x04 /* pid/comm came from process context */
#define SESSION_F_FIN_ACKED 0x08   /* our FIN was sent and acked: +1 in bytes_acked */
#define SESSION_F_FIN_RECEIVED 0x10 /* the peer's FIN was counted in bytes_received */
#define SESSION_F_FOUND_AT_START 0x20 /* open when the agent started: birth_ns is when it was found */

/* Where the owner (pid, comm) came from; the first evidence wins. */
enum owner_source {
	OWNER_NONE = 0,
	OWNER_CONNECT = 1,    /* SYN_SENT: connect() */
	OWNER_SOCKET_IO = 2,  /* first sendmsg/recvmsg on the socket */
	OWNER_CLOSE = 3,      /* FIN_WAIT1 or LAST_ACK: close()/shutdown() */
	OWNER_FOUND = 4,      /* found at start: a process holding the socket's file */
};

/*
 * The kernel program in parts, each loaded as its own BPF object sharing the
 * core's maps, so that a kernel refusing an optional part turns off that
 * part only. The bits name them in reject_for_test, a knob only tests set:
 * a part whose bit is set contains a deliberate verifier error, so its load
 * fails the way a real rejection does.
 */
#define PART_CORE 0x01                 /* the state-change program (tp_btf or tracepoint) */
#define PART_OPEN_SESSIONS 0x02        /* iterators: sessions open at start */
#define PART_OWNERS_FROM_IO 0x04       /* first send/recv: owners of accepted sockets */
#define PART_NESTED_STATE_CHANGES 0x08 /* the twin for state changes nested in an interrupt */

/* Kernel-side counters, one slot each in a per-CPU array. */
enum probe_counter {
	COUNTER_SESSIONS_EMITTED = 0, /* written to the ring buffer */
	COUNTER_RINGBUF_FULL = 1,     /* could not be written: lost */
	COUNTER_FILTERED = 2,         /* closed but excluded by a filter */
	COUNTER_BIRTH_MISSED = 3,     /* closed, birth unseen: opened before us (partial) */
	COUNTER_STORAGE_FAILED = 4,   /* per-socket state could not be created */
	COUNTER_NESTED_HANDLED = 5,   /* state changes set_state_nested handled */
	COUNTER_MAX = 6,
};

/*
 * Filters, decided in the kernel when a session closes (family and netns
 * also at its birth: a socket they exclude gets no state). User space keeps
 * two generations of them: it fills the idle one (config slot, set members,
 * port bits, each keyed by its generation), switches filter_gen with one
 * aligned store, waits until no program can still be judging by the old
 * generation, then clears it. A session is judged by one generation, never a
 * mix.
 */
#define FILTER_FAMILY 0x001       /* skc_family must equal filter_config.family */
#define FILTER_PIDS 0x002         /* owner's ns_pid in filter_pids (unknown owner: no) */
#define FILTER_EXCLUDE_PIDS 0x004 /* owner's ns_pid not in filter_excluded_pids */
#define FILTER_LOCAL_PORTS 0x008  /* local port's bit set in filter_port_bits */
#define FILTER_REMOTE_PORTS 0x010 /* remote port's bit set in filter_port_bits */
#define FILTER_LOCAL_CIDRS 0x020  /* local address in filter_local_cidrs */
#define FILTER_REMOTE_CIDRS 0x040 /* remote address in filter_remote_cidrs */
#define FILTER_NETNS 0x080        /* netns inode in filter_netns */
#define FILTER_CGROUPS 0x100      /* socket's cgroup or an ancestor in filter_cgroups */

/* Members per generation; the maps hold two generations. */
#define FILTER_MAX_PIDS 4096
#define FILTER_MAX_NETNS 1024
#define FILTER_MAX_CGROUPS 1024
#define FILTER_MAX_CIDRS 1024
/* Ancestors of a socket's cgroup the filter looks at (its own included). */
#define FILTER_CGROUP_LEVELS 32

/* One slot per generation. kinds == 0: every session passes. */
struct filter_config {
	__u32 kinds;   /* FILTER_* in force */
	__u16 family;  /* AF_INET (2) or AF_INET6 (10), with FILTER_FAMILY */
	__u16 _pad;
};

/* Key of filter_pids, filter_excluded_pids and filter_netns. */
struct filter_u32_key {
	__u32 gen;
	__u32 value;   /* tgid or netns inode */
};

/* Key of filter_cgroups. */
struct filter_u64_key {
	__u32 gen;
	__u32 _pad;
	__u64 value;   /* cgroup v2 id (kernfs node id = the directory's inode) */
};

/* Key of the LPM tries. The generation is the first byte of the matched
 * data, so prefixlen = 8 + the prefix in IPv6 space; IPv4 is stored as
 * ::ffff:a.b.c.d (IPv4 prefix + 96), which one trie serves for both
 * families and for IPv4-mapped addresses of IPv6 sockets. */
struct filter_cidr_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[16]; /* network byte order */
	__u8 _pad[3];
};

struct session_event {
	__u64 birth_ns;       /* CLOCK_BOOTTIME: first state (SYN_SENT/SYN_RECV) */
	__u64 established_ns; /* CLOCK_BOOTTIME: ESTABLISHED; 0 if never */
	__u64 end_ns;         /* CLOCK_BOOTTIME: CLOSE */
	__u64 cookie;         /* socket cookie: unique for the boot */
	__u64 bytes_acked;    /* tcp_sock.bytes_acked: sequence space, SYN/FIN count 1 */
	__u64 bytes_received; /* tcp_sock.bytes_received: sequence space, FIN counts 1 */
	__u64 cgroup_id;      /* cgroup v2 id of the owner, when known */
	__u64 bytes_retrans;  /* tcp_sock.bytes_retrans: bytes retransmitted */
	__u32 pid;            /* owner tgid (init pid namespace); 0 when unknown */
	__u32 tid;            /* owner thread id; 0 when unknown */
	__u32 netns;          /* network namespace inode */
	__u32 snd_una;        /* at close: with bytes_acked gives the local ISN */
	__u32 rcv_nxt;        /* at close: with bytes_received gives the peer's ISN */
	__u32 ns_pid;         /* owner tgid in the agent's PID namespace; 0 outside it or unknown */
	__u32 ns_tid;         /* owner thread id in the agent's PID namespace */
	/* TCP health at close, as tcp_info reports it */
	__u32 srtt_us;        /* smoothed RTT in µs, times 8 (tcp_sock.srtt_us); 0: no sample */
	__u32 mdev_us;        /* RTT mean deviation in µs, times 4 (tcp_sock.mdev_us) */
	__u32 total_retrans;  /* segments retransmitted */
	__u32 segs_in;        /* segments received (tcp_sock.segs_in) */
	__u32 segs_out;       /* segments sent */
	__u16 family;         /* AF_INET or AF_INET6 */
	__u16 lport;          /* host byte order */
	__u16 rport;          /* host byte order */
	__u8 oldstate;        /* TCP state before CLOSE: tells the outcome */
	__u8 role;            /* enum session_role */
	__u8 flags;           /* SESSION_F_* */
	__u8 owner_source;    /* enum owner_source */
	__u8 error;           /* sk_err at close: ECONNREFUSED, ECONNRESET, ETIMEDOUT... */
	__u8 filter_gen;     /* the filter generation that admitted it (0 or 1) */
	__u8 laddr[16];       /* network byte order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[TASK_COMM_LEN];
};

#endif /* TCPLIFE_SESSION_EVENT_H */
