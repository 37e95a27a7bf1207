// The quarantine digest's console link (issue 13): signed for exactly its recipient with the
// console's link key, expiring, and present only where a console runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import { buildDigest } from '../../src/quarantine/notifications.ts';
import { digestLinks, DIGEST_LINK_TTL_MS } from '../../src/services/quarantine-actions.ts';
import { signRecipientLink, verifyRecipientLink } from '../../src/services/identity-links.ts';
import { readLinkKey } from '../helpers/link-key.ts';
import type { QuarantineItem } from '../../src/store/ports.ts';

const item: QuarantineItem = {
  id: 'Q1', time: '2026-11-23T10:00:00.000Z', expires: '2026-12-23T10:00:00.000Z', transactionId: 't1', policy: 'DefaultFullAccessWithNotificationPolicy',
  kind: 'dmarcQuarantine', mailFrom: 'x@fabrikam.test', headerFrom: ['x@fabrikam.test'], subject: 'Hello', sizeBytes: 10, reason: 'test',
  prependHeaders: '', file: 'Q1.eml', recipients: [{ address: 'alice@contoso.test', state: 'held', releaseQueueId: null, notified: false }],
};

test('with a console the digest carries a link signed for its recipient that expires', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-link-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const config = bootstrapSchema.parse({ hostname: 'mx.contoso.test', console: { port: 9443 } });
  const now = new Date('2026-11-23T12:00:00Z');
  const key = await readLinkKey(dataDir);
  const link = digestLinks(config, () => (address, expiresAt) => signRecipientLink(key, address, expiresAt))!('alice@contoso.test', now)!;
  const m = /^https:\/\/mx\.contoso\.test:9443\/console\/#\/r\/(\S+)$/.exec(link.url);
  assert.ok(m, link.url);
  const checked = verifyRecipientLink(key, m[1], now);
  assert.deepEqual(checked.ok && [checked.address, checked.expiresAt.getTime()], ['alice@contoso.test', now.getTime() + DIGEST_LINK_TTL_MS]);
  assert.equal(verifyRecipientLink(key, m[1], new Date(now.getTime() + DIGEST_LINK_TTL_MS + 1000)).ok, false);
  const digest = buildDigest({ from: 'postmaster@mx.contoso.test', to: 'alice@contoso.test', hostname: 'mx.contoso.test', items: [item], now, link });
  assert.ok(digest.includes(link.url), digest);
  assert.match(digest, /link valid until 2026-11-26 12:00 UTC/);
});

test('without a console there is no link, and the digest names the CLI only', () => {
  const config = bootstrapSchema.parse({ hostname: 'mx.contoso.test' });
  assert.equal(digestLinks(config, () => null), undefined);
  const withConsole = bootstrapSchema.parse({ hostname: 'mx.contoso.test', console: { port: 9443 } });
  assert.equal(digestLinks(withConsole, () => null)!('alice@contoso.test', new Date()), null, 'a console in another process: no link');
  const digest = buildDigest({ from: 'p@mx.test', to: 'alice@contoso.test', hostname: 'mx.test', items: [item], now: new Date() });
  assert.doesNotMatch(digest, /console/);
  assert.match(digest, /mxward quarantine show ID --as YOUR-ADDRESS/);
});
