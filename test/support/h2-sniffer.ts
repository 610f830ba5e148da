/**
 * A plain-text TCP proxy in front of a gRPC server that reads, on the way
 * through, the gRPC messages the clients send: it parses the client-to-server
 * HTTP/2 byte stream (the connection preface, then frames) and, from each
 * stream's DATA frames, the gRPC length-prefixed messages (1 byte compressed
 * flag, 4 bytes big-endian length, the message). So a test can check what
 * is really on the wire, e.g. that a client compresses: gRPC servers
 * (grpc-js included) inflate messages before any handler sees them.
 *
 * h2c only (no TLS). HEADERS are not decoded (HPACK), so a message is not
 * tied to its method path here: match messages to what the server decoded
 * by their bytes.
 */
import * as net from 'node:net';

export interface SniffedMessage {
  /** HTTP/2 stream id (one per unary call). */
  streamId: number;
  /** The gRPC Compressed-Flag: true when the message is compressed with the call's grpc-encoding. */
  compressed: boolean;
  /** The message bytes as sent (compressed when `compressed`). */
  message: Buffer;
}

export interface H2Sniffer {
  port: number;
  /** Every client message seen, in order, over all connections. */
  messages: SniffedMessage[];
  /** Set when a connection did not start with the HTTP/2 preface (e.g. TLS). */
  errors: string[];
  close(): Promise<void>;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_DATA = 0x0;
const FLAG_PADDED = 0x8;

/** Parses one connection's client-to-server bytes. */
class ClientStreamParser {
  private buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private broken = false;
  private readonly streams = new Map<number, Buffer>();

  constructor(
    private readonly onMessage: (m: SniffedMessage) => void,
    private readonly onError: (e: string) => void,
  ) {}

  feed(chunk: Buffer): void {
    if (this.broken) return;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.prefaceSeen) {
      if (this.buffer.length < PREFACE.length) return;
      if (!this.buffer.subarray(0, PREFACE.length).equals(PREFACE)) {
        this.broken = true;
        this.onError('the connection did not start with the HTTP/2 client preface');
        return;
      }
      this.prefaceSeen = true;
      this.buffer = this.buffer.subarray(PREFACE.length);
    }
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) return;
      const type = this.buffer[3];
      const flags = this.buffer[4];
      const streamId = this.buffer.readUInt32BE(5) & 0x7fffffff;
      let payload = this.buffer.subarray(9, 9 + length);
      this.buffer = this.buffer.subarray(9 + length);
      if (type !== FRAME_DATA) continue;
      if (flags & FLAG_PADDED) payload = payload.subarray(1, payload.length - payload[0]);
      this.onData(streamId, payload);
    }
  }

  private onData(streamId: number, data: Buffer): void {
    let pending = Buffer.concat([this.streams.get(streamId) ?? Buffer.alloc(0), data]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      this.onMessage({ streamId, compressed: pending[0] === 1, message: Buffer.from(pending.subarray(5, 5 + length)) });
      pending = pending.subarray(5 + length);
    }
    this.streams.set(streamId, pending);
  }
}

/** Listens on 127.0.0.1 (ephemeral port) and forwards every connection to target. */
export async function startH2Sniffer(target: { host: string; port: number }): Promise<H2Sniffer> {
  const messages: SniffedMessage[] = [];
  const errors: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const parser = new ClientStreamParser(
      (m) => messages.push(m),
      (e) => errors.push(e),
    );
    client.on('data', (chunk: Buffer) => parser.feed(chunk));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as net.AddressInfo).port,
    messages,
    errors,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
