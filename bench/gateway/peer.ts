// What the runner needs from each gateway under test.
export const ACCEPTED_DOMAIN = 'example.test';
/** The one source listed as allowed to send as the accepted domain (a partner); never used by the driver. */
export const LISTED_IP = '192.0.2.10';
export const DIRECT_SEND_REPLY = '550 5.7.68';
export const DIRECT_SEND_TEXT = 'TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources';

export type PeerName = 'mxward' | 'postfix' | 'haraka';

export interface ServerCounts {
  /** Messages the server says it accepted (queued or relayed). */
  accepted: number;
  /** Transactions it refused with 5.7.68. */
  rejected: number;
}

export interface Peer {
  readonly name: PeerName;
  readonly port: number;
  /** Processes whose tree is the server (for CPU and RSS). */
  pids(): number[];
  /** The server's own account, from its log or trace, since start. */
  counts(): Promise<ServerCounts>;
  stop(): Promise<void>;
}

export interface PeerOptions {
  /** A fresh temporary directory for this peer. */
  dir: string;
  sinkPort: number;
  /** Per-listener process or connection ceilings must allow the idle scenario. */
  maxSessions: number;
}
