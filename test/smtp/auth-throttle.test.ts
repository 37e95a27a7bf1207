// Issue 11: AUTH failure throttling as a table with an injected clock, and the password-hash
// semaphore that keeps scrypt to its own small share of libuv's thread pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthThrottle } from '../../src/smtp/auth-throttle.ts';
import type { AuthThrottleSettings } from '../../src/smtp/auth-throttle.ts';
import { HashGate, hashPassword, verifyPassword } from '../../src/users/passwords.ts';

const settings: AuthThrottleSettings = {
  authFailuresBeforeLockout: 4, authLockoutMs: 60_000, authFailureDelayMs: 100, authFailureMaxDelayMs: 500,
  passwordHashConcurrency: 1, passwordHashQueueMax: 2,
};

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

test('delays double per failure up to the maximum; the threshold locks the client out', () => {
  const c = clock();
  const throttle = new AuthThrottle(settings, c.now);
  const delays = [1, 2, 3, 4].map((i) => throttle.recordFailure('192.0.2.1', `user${i}`).delayMs);
  assert.deepEqual(delays, [100, 200, 400, 500]);
  assert.deepEqual(throttle.admit('192.0.2.1', 'someone-else'), { ok: false, lockedBy: 'client' });
  assert.deepEqual(throttle.admit('192.0.2.2', 'user1'), { ok: true }, 'another client, a name with one failure');
  c.advance(60_001);
  assert.deepEqual(throttle.admit('192.0.2.1', 'someone-else'), { ok: true }, 'the lockout expires');
});

test('a user name guessed from many clients is locked out too, case-insensitively', () => {
  const throttle = new AuthThrottle(settings, clock().now);
  for (let i = 0; i < 4; i++) throttle.recordFailure(`198.51.100.${i}`, i % 2 ? 'Alice' : 'alice');
  assert.deepEqual(throttle.admit('203.0.113.9', 'ALICE'), { ok: false, lockedBy: 'user' });
});

test('failures outside the window start a new count; a success clears the user name only', () => {
  const c = clock();
  const throttle = new AuthThrottle(settings, c.now);
  throttle.recordFailure('192.0.2.1', 'bob');
  throttle.recordFailure('192.0.2.1', 'bob');
  c.advance(60_001);
  assert.equal(throttle.recordFailure('192.0.2.1', 'bob').clientFailures, 1);
  throttle.recordFailure('192.0.2.1', 'bob');
  throttle.recordSuccess('bob');
  const next = throttle.recordFailure('192.0.2.1', 'bob');
  assert.equal(next.userFailures, 1);
  assert.equal(next.clientFailures, 3, 'a login to one account does not wipe the client\'s guesses');
});

test('HashGate: never more than `concurrency` at once, and a full queue answers busy instead of waiting', async () => {
  const gate = new HashGate(1, 2);
  let running = 0;
  let peak = 0;
  const releases: Array<() => void> = [];
  const work = () => new Promise<number>((resolve) => {
    running += 1;
    peak = Math.max(peak, running);
    releases.push(() => { running -= 1; resolve(running); });
  });
  const first = gate.run(work);
  const queued = [gate.run(work), gate.run(work)];
  assert.deepEqual(await gate.run(work), { ok: false, reason: 'busy' });
  assert.equal(gate.waiting, 2);
  for (let i = 0; i < 3; i++) {
    while (releases.length === 0) await new Promise((r) => setImmediate(r));
    releases.shift()!();
  }
  const results = await Promise.all([first, ...queued]);
  assert.ok(results.every((r) => r.ok));
  assert.equal(peak, 1);
  assert.equal(gate.running, 0);
});

test('HashGate around real scrypt: 8 concurrent checks all answer correctly, one at a time', async () => {
  const stored = await hashPassword('right');
  const gate = new HashGate(1, 16);
  let inside = 0;
  let peak = 0;
  const check = (pw: string) => gate.run(async () => {
    inside += 1;
    peak = Math.max(peak, inside);
    try { return await verifyPassword(pw, stored); } finally { inside -= 1; }
  });
  const results = await Promise.all(['right', 'wrong', 'right', 'x', 'y', 'right', 'z', 'w'].map(check));
  assert.deepEqual(results.map((r) => r.ok && r.value), [true, false, true, false, false, true, false, false]);
  assert.equal(peak, 1);
});
