// The layout of struct session_event (bpf/session_event.h), as the decoder
// reads it. test/unit/wire.test.ts checks every entry against the sizes and
// offsets the addon exports from the C struct itself.
export const EVENT_SIZE = 144;

export const FIELDS = {
  birth_ns: { offset: 0, size: 8 },
  established_ns: { offset: 8, size: 8 },
  end_ns: { offset: 16, size: 8 },
  cookie: { offset: 24, size: 8 },
  bytes_acked: { offset: 32, size: 8 },
  bytes_received: { offset: 40, size: 8 },
  cgroup_id: { offset: 48, size: 8 },
  pid: { offset: 56, size: 4 },
  tid: { offset: 60, size: 4 },
  netns: { offset: 64, size: 4 },
  snd_una: { offset: 68, size: 4 },
  rcv_nxt: { offset: 72, size: 4 },
  ns_pid: { offset: 76, size: 4 },
  ns_tid: { offset: 80, size: 4 },
  family: { offset: 84, size: 2 },
  lport: { offset: 86, size: 2 },
  rport: { offset: 88, size: 2 },
  oldstate: { offset: 90, size: 1 },
  role: { offset: 91, size: 1 },
  flags: { offset: 92, size: 1 },
  owner_source: { offset: 93, size: 1 },
  error: { offset: 94, size: 1 },
  filter_gen: { offset: 95, size: 1 },
  laddr: { offset: 96, size: 16 },
  raddr: { offset: 112, size: 16 },
  comm: { offset: 128, size: 16 },
} as const;

export const ROLE = { CLIENT: 1, SERVER: 2, UNKNOWN: 3 } as const;

export const FLAG = {
  BIRTH_SEEN: 0x01,
  ESTABLISHED: 0x02,
  OWNER_KNOWN: 0x04,
  FIN_ACKED: 0x08,
  FIN_RECEIVED: 0x10,
} as const;

export const OWNER = { NONE: 0, CONNECT: 1, SOCKET_IO: 2, CLOSE: 3 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
