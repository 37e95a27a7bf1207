// The idle-connections scenario: N sessions opened and left idle after their banner, then the
// server's memory, and how long a new session waits for its banner while they are held.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Peer } from './peer.ts';
import { treeRssBytes } from './procs.ts';
import { median } from './stats.ts';
import { sleep } from './net.ts';

export interface IdleResult {
  peer: string;
  held: number;
  rssBytes: number;
  bannerMedianMs: number;
  bannerMaxMs: number;
  problems: string[];
}

/** Connects and resolves with the socket once a 220 banner line arrived. */
function openSession(port: number, timeoutMs: number): Promise<{ socket: Socket; bannerMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no banner within ${timeoutMs} ms`)); }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (!text.startsWith('220')) { socket.destroy(); reject(new Error(`banner: ${text.trim()}`)); return; }
      resolve({ socket, bannerMs: performance.now() - started });
    });
    socket.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

export async function runIdle(peer: Peer, held: number, probes = 20): Promise<IdleResult> {
  const problems: string[] = [];
  const sockets: Socket[] = [];
  try {
    // Opened in batches, like a burst of slow clients, each waiting for its banner.
    for (let i = 0; i < held; i += 100) {
      const batch = await Promise.allSettled(Array.from({ length: Math.min(100, held - i) }, () => openSession(peer.port, 30_000)));
      for (const r of batch) {
        if (r.status === 'fulfilled') sockets.push(r.value.socket);
        else if (problems.length < 3) problems.push(`idle session: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      }
    }
    if (sockets.length < held) problems.push(`${held - sockets.length} of ${held} idle sessions not served`);
    await sleep(500);
    const rssBytes = treeRssBytes(peer.pids());
    const banners: number[] = [];
    for (let i = 0; i < probes; i++) {
      try {
        const { socket, bannerMs } = await openSession(peer.port, 10_000);
        banners.push(bannerMs);
        socket.end('QUIT\r\n');
      } catch (err) {
        problems.push(`new session while ${sockets.length} idle: ${(err as Error).message}`);
        break;
      }
    }
    return { peer: peer.name, held: sockets.length, rssBytes, bannerMedianMs: median(banners), bannerMaxMs: Math.max(...banners), problems };
  } finally {
    for (const s of sockets) s.destroy();
    await sleep(500);
  }
}
