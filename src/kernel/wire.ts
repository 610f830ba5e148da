// The layout of struct session_event (bpf/session_event.h), as the decoder
// reads it. test/e2e/wire.test.ts checks every entry against the sizes and
// offsets the addon exports from the C struct itself.
export const EVENT_SIZE = 176;

export const FIELDS = {
  birth_ns: { offset: 0, size: 8 },
  established_ns: { offset: 8, size: 8 },
  end_ns: { offset: 16, size: 8 },
  cookie: { offset: 24, size: 8 },
  bytes_acked: { offset: 32, size: 8 },
  bytes_received: { offset: 40, size: 8 },
  cgroup_id: { offset: 48, size: 8 },
  bytes_retrans: { offset: 56, size: 8 },
  pid: { offset: 64, size: 4 },
  tid: { offset: 68, size: 4 },
  netns: { offset: 72, size: 4 },
  snd_una: { offset: 76, size: 4 },
  rcv_nxt: { offset: 80, size: 4 },
  ns_pid: { offset: 84, size: 4 },
  ns_tid: { offset: 88, size: 4 },
  srtt_us: { offset: 92, size: 4 },
  mdev_us: { offset: 96, size: 4 },
  total_retrans: { offset: 100, size: 4 },
  segs_in: { offset: 104, size: 4 },
  segs_out: { offset: 108, size: 4 },
  family: { offset: 112, size: 2 },
  lport: { offset: 114, size: 2 },
  rport: { offset: 116, size: 2 },
  oldstate: { offset: 118, size: 1 },
  role: { offset: 119, size: 1 },
  flags: { offset: 120, size: 1 },
  owner_source: { offset: 121, size: 1 },
  error: { offset: 122, size: 1 },
  filter_gen: { offset: 123, size: 1 },
  laddr: { offset: 124, size: 16 },
  raddr: { offset: 140, size: 16 },
  comm: { offset: 156, size: 16 },
} as const;

export const ROLE = { CLIENT: 1, SERVER: 2, UNKNOWN: 3 } as const;

export const FLAG = {
  BIRTH_SEEN: 0x01,
  ESTABLISHED: 0x02,
  OWNER_KNOWN: 0x04,
  FIN_ACKED: 0x08,
  FIN_RECEIVED: 0x10,
  FOUND_AT_START: 0x20,
} as const;

export const OWNER = { NONE: 0, CONNECT: 1, SOCKET_IO: 2, CLOSE: 3, FOUND: 4 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
