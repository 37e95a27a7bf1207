// A small stub-resolver client: one question to one server over UDP (EDNS0, RFC 6891), retried
// over TCP when the answer is truncated (RFC 7766 §5). Written on dns-packet because node:dns
// does not report TTLs for TXT or MX answers, and the cache in resolver.ts must respect them
// (RFC 1035 §3.2.1, negative answers per RFC 2308 §5).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, Packet, RecordType } from 'dns-packet';

export interface DnsServer {
  host: string;
  port: number;
}

/** The outcome of one exchange, in the error codes node:dns uses (mailauth relies on them). */
export type DnsOutcome =
  | { kind: 'answer'; records: Answer[]; ttlSeconds: number }
  | { kind: 'error'; code: 'ENOTFOUND' | 'ENODATA' | 'ESERVFAIL' | 'EREFUSED' | 'ETIMEOUT' | 'EBADRESP' | 'ECONNREFUSED'; ttlSeconds: number };

const EDNS_PAYLOAD_BYTES = 4096;

function buildQuery(name: string, type: RecordType, id: number): Buffer {
  return packet.encode({
    type: 'query', id, flags: packet.RECURSION_DESIRED,
    questions: [{ type, name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD_BYTES, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
}

/** Negative caching uses the SOA minimum, bounded by the SOA's own TTL (RFC 2308 §5). */
function negativeTtl(response: Packet): number {
  const soa = (response.authorities ?? []).find((r) => r.type === 'SOA') as { ttl?: number; data: { minimum: number } } | undefined;
  return soa ? Math.min(soa.ttl ?? 0, soa.data.minimum) : 0;
}

export function interpret(response: Packet, type: RecordType): DnsOutcome {
  const rcode = (response as Packet & { rcode?: string }).rcode ?? 'NOERROR';
  if (rcode === 'NXDOMAIN') return { kind: 'error', code: 'ENOTFOUND', ttlSeconds: negativeTtl(response) };
  if (rcode === 'SERVFAIL') return { kind: 'error', code: 'ESERVFAIL', ttlSeconds: 0 };
  if (rcode === 'REFUSED') return { kind: 'error', code: 'EREFUSED', ttlSeconds: 0 };
  if (rcode !== 'NOERROR') return { kind: 'error', code: 'EBADRESP', ttlSeconds: 0 };
  // A CNAME chain comes back in the answer section with the target's records (RFC 1034 §4.3.2);
  // only records of the asked type are the answer.
  const records = (response.answers ?? []).filter((a) => a.type === type);
  if (records.length === 0) return { kind: 'error', code: 'ENODATA', ttlSeconds: negativeTtl(response) };
  const ttlSeconds = Math.min(...(response.answers ?? []).map((a) => (a as { ttl?: number }).ttl ?? 0));
  return { kind: 'answer', records, ttlSeconds };
}

function matches(response: Packet, id: number, name: string, type: RecordType): boolean {
  const q = response.questions?.[0];
  return response.id === id && !!q && q.type === type && q.name.toLowerCase() === name.toLowerCase();
}

function exchangeUdp(server: DnsServer, name: string, type: RecordType, timeoutMs: number): Promise<Packet | null> {
  return new Promise((resolveExchange) => {
    const id = randomInt(0, 65536);
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (value: Packet | null) => {
      clearTimeout(timer);
      socket.close();
      resolveExchange(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('message', (msg) => {
      let decoded: Packet;
      try {
        decoded = packet.decode(msg);
      } catch {
        return; // garbage on our port: keep waiting for the real answer
      }
      if (matches(decoded, id, name, type)) done(decoded);
    });
    socket.send(buildQuery(name, type, id), server.port, server.host, (err) => { if (err) done(null); });
  });
}

function exchangeTcp(server: DnsServer, name: string, type: RecordType, timeoutMs: number): Promise<Packet | null> {
  return new Promise((resolveExchange) => {
    const id = randomInt(0, 65536);
    const socket = connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    const done = (value: Packet | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolveExchange(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('connect', () => socket.write(packet.streamEncode(packet.decode(buildQuery(name, type, id)))));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      try {
        const decoded = packet.streamDecode(buffered);
        done(matches(decoded, id, name, type) ? decoded : null);
      } catch {
        done(null);
      }
    });
  });
}

/** One question to one server; null means no usable answer within timeoutMs. */
export async function askServer(server: DnsServer, name: string, type: RecordType, timeoutMs: number): Promise<Packet | null> {
  const started = Date.now();
  const udp = await exchangeUdp(server, name, type, timeoutMs);
  if (!udp) return null;
  if (((udp.flags ?? 0) & packet.TRUNCATED_RESPONSE) === 0) return udp;
  return exchangeTcp(server, name, type, Math.max(1, timeoutMs - (Date.now() - started)));
}
