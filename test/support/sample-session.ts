// A complete TcpSession for unit tests, with overrides.
import type { TcpSession } from '../../src/sessions/tcp-session';

export function sampleSession(over: Partial<TcpSession>): TcpSession {
  return {
    family: 4,
    localAddress: '10.0.0.5',
    localPort: 45678,
    remoteAddress: '93.184.216.34',
    remotePort: 443,
    role: 'client',
    pid: 1234,
    tid: 1235,
    hostPid: 1234,
    comm: 'curl',
    ownerSource: 'connect',
    cgroupId: 77,
    netns: 4026531840,
    filterGeneration: 1,
    // 2026-11-26T06:15:52Z
    startTime: [1795673752, 123456789],
    endTime: [1795673752, 246913578],
    durationNs: 123456789,
    handshakeNs: 1500,
    bytesSent: 2548,
    bytesReceived: 1048577,
    bytesAckedRaw: 2550,
    bytesReceivedRaw: 1048579,
    stateBeforeClose: 'FIN_WAIT2',
    outcome: 'closed_locally',
    cookie: 12345,
    rttUs: 250,
    rttVarUs: 125,
    retransSegments: 0,
    retransBytes: 0,
    segmentsIn: 740,
    segmentsOut: 12,
    sndUna: 1,
    rcvNxt: 2,
    endBootNs: 99,
    ...over,
  };
}
