// The quarantine (issue 3, SPEC §6): takes messages from the gateway (QuarantineSink), answers
// administrators and recipients (`mxward quarantine`), releases through the spool exactly once,
// sends notification digests and purges after the retention period. Every action is audited.
import { createReadStream } from 'node:fs';
import { access, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuarantineSettings } from '../config/auth-schema.ts';
import type { Verdict } from '../domain/types.ts';
import { QUARANTINE_RULES } from '../policy/auth-verdict.ts';
import type { QuarantineSink } from '../smtp/context.ts';
import { newEnvelope } from '../spool/envelope.ts';
import type { Spool } from '../spool/spool.ts';
import { newQueueId } from '../spool/spool.ts';
import type { QuarantineItem, QuarantineRecipientState, QuarantineStore } from '../store/ports.ts';
import { headerFactsOf, headerSection, moveIntoQuarantine, previewText, readHead } from './message-file.ts';
import { buildDigest, digestDue } from './notifications.ts';
import { BUILT_IN_POLICIES, checkUserAction, policyNamed } from './permissions.ts';
import type { UserAction } from './permissions.ts';

/** What kind of refusal: the API answers 404, 403, 409 or 400 with it as the code. */
export type QuarantineErrorCode = 'not_found' | 'forbidden' | 'conflict' | 'validation_failed';

/** A refusal or a mistake the user can act on: printed as one line by the CLI. */
export class QuarantineError extends Error {
  readonly code: QuarantineErrorCode;
  constructor(message: string, code: QuarantineErrorCode = 'conflict') {
    super(message);
    this.name = 'QuarantineError';
    this.code = code;
  }
}

export interface QuarantineServiceOptions {
  store: QuarantineStore;
  spool: Spool;
  dir: string;
  settings: QuarantineSettings;
  hostname: string;
  /** Tells the queue runner about a committed entry (in the gateway: enqueue; in the CLI: wake it). */
  onQueued(queueId: string): void | Promise<void>;
  /** A signed console link for a recipient's digest (issue 13); absent: the digest names the CLI only. */
  recipientLink?: (address: string, now: Date) => { url: string; expiresAt: Date } | null;
  now?: () => Date;
}

/** Who acts: an administrator, or a recipient acting on their own copy (`--as`). */
export interface Actor {
  name: string;
  asRecipient: string | null;
}

const KIND_BY_RULE: Record<string, keyof QuarantineSettings['policies']> = {
  [QUARANTINE_RULES.ownDomainSpoof]: 'ownDomainSpoof',
  [QUARANTINE_RULES.foreignSpoof]: 'foreignSpoof',
  [QUARANTINE_RULES.dmarcQuarantine]: 'dmarcQuarantine',
  [QUARANTINE_RULES.dmarcReject]: 'dmarcReject',
};

export class QuarantineService implements QuarantineSink {
  readonly #o: QuarantineServiceOptions;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(options: QuarantineServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** QuarantineSink: the policy follows the verdict type (SPEC §6, settings quarantine.policies). */
  async quarantine(input: { messagePath: string; prependHeaders: string; traceTransactionId: string; recipients: string[]; mailFrom: string | null; verdict: Verdict; headerFrom: string[] }): Promise<string> {
    const kindHit = input.verdict.hits.find((h) => KIND_BY_RULE[h.rule]);
    const kind = kindHit ? KIND_BY_RULE[kindHit.rule] : 'other';
    // An unknown verdict type gets the strictest policy rather than a guess.
    const policy = kind === 'other' ? 'AdminOnlyAccessPolicy' : this.#o.settings.policies[kind];
    const id = newQueueId();
    const head = await readHead(input.messagePath, 64 * 1024);
    const { file, sizeBytes } = await moveIntoQuarantine(input.messagePath, this.#o.dir, id);
    const now = this.#now();
    await this.#o.store.addQuarantined({
      id, time: now.toISOString(), expires: new Date(now.getTime() + this.#o.settings.retentionDays * 86_400_000).toISOString(),
      transactionId: input.traceTransactionId, policy, kind, mailFrom: input.mailFrom, headerFrom: input.headerFrom,
      subject: headerFactsOf(head).subject, sizeBytes, reason: input.verdict.hits.map((h) => `${h.rule}: ${h.detail}`).join('; '),
      prependHeaders: input.prependHeaders, file,
      recipients: [...new Set(input.recipients.map((r) => r.toLowerCase()))].map((address) => ({ address, state: 'held', releaseQueueId: null, notified: false })),
    });
    return id;
  }

  /** Pending items (held, requested, releasing) unless `all`; `states` narrows to exactly those. */
  async list(actor: Actor, options: { all?: boolean; limit?: number; states?: QuarantineRecipientState[]; recipient?: string } = {}): Promise<QuarantineItem[]> {
    const states: QuarantineRecipientState[] | undefined = options.states ?? (options.all ? undefined : ['held', 'requested', 'releasing']);
    // An administrator may narrow to one recipient (`recipient`) and still sees every copy and policy.
    const items = await this.#o.store.listQuarantined({ recipient: actor.asRecipient ?? options.recipient, states, limit: options.limit });
    // A recipient sees only their own copy, and nothing at all under AdminOnlyAccessPolicy (SPEC §6).
    const visible = actor.asRecipient ? items.filter((i) => policyNamed(i.policy).permissions !== 0) : items;
    await this.#audit(actor, 'quarantine.list', { count: visible.length });
    return actor.asRecipient ? visible.map((i) => ({ ...i, recipients: i.recipients.filter((r) => r.address === actor.asRecipient!.toLowerCase()) })) : visible;
  }

  /** The item without an audit entry or a permission check: for callers that check first (services/quarantine-actions.ts). */
  async find(id: string): Promise<QuarantineItem | null> {
    return this.#o.store.getQuarantined(id);
  }

  async show(id: string, actor: Actor): Promise<QuarantineItem> {
    const item = await this.#authorize(id, actor, 'show');
    await this.#audit(actor, 'quarantine.show', { id });
    return item;
  }

  async headers(id: string, actor: Actor): Promise<string> {
    const item = await this.#authorize(id, actor, 'headers');
    await this.#audit(actor, 'quarantine.headers', { id });
    return item.prependHeaders + headerSection(await readHead(this.#path(item)));
  }

  async preview(id: string, actor: Actor): Promise<string> {
    const item = await this.#authorize(id, actor, 'preview');
    await this.#audit(actor, 'quarantine.preview', { id });
    return previewText(await readHead(this.#path(item)));
  }

  /** Releases to the recipient acting, or (administrator) to every recipient still held. */
  async release(id: string, actor: Actor): Promise<{ queueId: string; recipients: string[] }> {
    await this.#authorize(id, actor, 'release');
    return this.#release(id, actor, actor.asRecipient ? [actor.asRecipient] : null, ['held', 'requested'], 'quarantine.release');
  }

  async requestRelease(id: string, actor: Actor): Promise<string[]> {
    if (!actor.asRecipient) throw new QuarantineError('request-release is a recipient action: give --as RECIPIENT (administrators use release or approve)', 'validation_failed');
    await this.#authorize(id, actor, 'request-release');
    const moved = await this.#o.store.transition(id, [actor.asRecipient], ['held'], 'requested', null, this.#auditOf(actor, 'quarantine.request-release'));
    if (moved.length === 0) throw new QuarantineError(`${id}: nothing held for ${actor.asRecipient} (already requested, released or deleted)`);
    return moved;
  }

  /** Administrator: release what recipients asked for. */
  async approve(id: string, actor: Actor): Promise<{ queueId: string; recipients: string[] }> {
    this.#adminOnly(actor, 'approve');
    await this.#get(id);
    return this.#release(id, actor, null, ['requested'], 'quarantine.approve');
  }

  /** Administrator: refuse a release request; the message stays held. */
  async deny(id: string, actor: Actor): Promise<string[]> {
    this.#adminOnly(actor, 'deny');
    await this.#get(id);
    const moved = await this.#o.store.transition(id, null, ['requested'], 'held', null, this.#auditOf(actor, 'quarantine.deny'));
    if (moved.length === 0) throw new QuarantineError(`${id}: no pending release request`);
    return moved;
  }

  /** A recipient deletes their copy; an administrator deletes the message and its file. */
  async delete(id: string, actor: Actor): Promise<string[]> {
    const item = await this.#authorize(id, actor, 'delete');
    if (actor.asRecipient) {
      const moved = await this.#o.store.transition(id, [actor.asRecipient], ['held', 'requested'], 'deleted', null, this.#auditOf(actor, 'quarantine.delete'));
      if (moved.length === 0) throw new QuarantineError(`${id}: nothing held for ${actor.asRecipient}`);
      return moved;
    }
    await this.#o.store.removeQuarantined(id, this.#auditOf(actor, 'quarantine.delete', { id, recipients: item.recipients.map((r) => r.address) }));
    await unlink(this.#path(item)).catch(() => {});
    return item.recipients.map((r) => r.address);
  }

  /** Digests and the retention purge, every pollMs in the gateway. */
  async runMaintenance(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.sendDigests();
      await this.purgeExpired();
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Resumes releases a crash interrupted, once at start (doing it on every tick could race a
   * release the CLI is committing right now), then runs the maintenance timer.
   */
  start(onError: (err: unknown) => void): void {
    const tick = () => { this.runMaintenance().catch(onError); };
    this.resumeReleases().catch(onError).finally(tick);
    this.#timer = setInterval(tick, this.#o.settings.pollMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async resumeReleases(): Promise<void> {
    for (const pending of await this.#o.store.listReleasing()) {
      const item = await this.#o.store.getQuarantined(pending.id);
      if (!item) continue;
      const inSpool = (await this.#o.spool.readEnvelope(pending.queueId)) !== null;
      const status = await this.#o.store.deliveryStatusOf(pending.queueId);
      const alreadyCommitted = inSpool || (status !== null && status !== 'quarantined');
      if (!alreadyCommitted) await this.#commitRelease(item, pending.queueId, pending.addresses, 'gateway');
      await this.#o.store.transition(item.id, pending.addresses, ['releasing'], 'released', pending.queueId, { actor: 'gateway', action: 'quarantine.release-resumed', detail: {} });
      if (!alreadyCommitted) await this.#o.onQueued(pending.queueId);
    }
  }

  async sendDigests(): Promise<void> {
    const notifying = Object.values(BUILT_IN_POLICIES).filter((p) => p.notify).map((p) => p.name);
    const now = this.#now();
    for (const [address, items] of await this.#o.store.pendingNotifications(notifying)) {
      if (!digestDue(await this.#o.store.lastDigest(address), now, this.#o.settings.notificationIntervalMs)) continue;
      const from = this.#o.settings.notificationFrom ?? `postmaster@${this.#o.hostname}`;
      const link = this.#o.recipientLink?.(address, now) ?? null;
      const text = buildDigest({ from, to: address, hostname: this.#o.hostname, items, now, link });
      const queueId = await this.#o.spool.commitBuffer(Buffer.from(text, 'utf8'), (qid) => newEnvelope({
        queueId: qid, mailFrom: null, recipients: [address], prependHeaders: '', transactionId: `quarantine-digest:${address}`, now,
      }));
      await this.#o.store.recordDigest(address, now.toISOString(), items.map((i) => i.id));
      await this.#o.onQueued(queueId);
    }
  }

  async purgeExpired(): Promise<number> {
    const expired = await this.#o.store.listExpired(this.#now().toISOString());
    for (const item of expired) {
      // A release still in flight keeps its file until the spool has its own copy.
      if (item.recipients.some((r) => r.state === 'releasing')) continue;
      await this.#o.store.removeQuarantined(item.id, { actor: 'gateway', action: 'quarantine.purge', detail: { id: item.id, expired: item.expires } });
      await unlink(this.#path(item)).catch(() => {});
    }
    return expired.length;
  }

  async #release(id: string, actor: Actor, addresses: string[] | null, from: QuarantineRecipientState[], action: string): Promise<{ queueId: string; recipients: string[] }> {
    const item = await this.#get(id);
    // On a shared (PostgreSQL) store the file may be on another node: refuse before any state
    // changes, rather than leave the recipients in `releasing` with nothing to send.
    if (!(await access(this.#path(item)).then(() => true, () => false))) {
      throw new QuarantineError(`${id}: the message file is not in this data directory; release it on the node that quarantined it`);
    }
    const queueId = this.#o.spool.newQueueId(); // in this worker's share of the spool (spool.ts)
    // The state change is the once-only guard: a second release finds nothing left in `from`.
    const moved = await this.#o.store.transition(id, addresses, from, 'releasing', queueId, this.#auditOf(actor, action));
    if (moved.length === 0) throw new QuarantineError(`${id}: nothing to release${addresses ? ` for ${addresses.join(', ')}` : ''} (already released, deleted, or no request pending)`);
    await this.#commitRelease(item, queueId, moved, actor.name);
    await this.#o.store.transition(id, moved, ['releasing'], 'released', queueId, null);
    await this.#o.store.attachReleaseToTrace(item.transactionId, queueId);
    await this.#o.onQueued(queueId);
    return { queueId, recipients: moved };
  }

  async #commitRelease(item: QuarantineItem, queueId: string, recipients: string[], by: string): Promise<void> {
    const writer = await this.#o.spool.createWriter(queueId);
    try {
      for await (const chunk of createReadStream(this.#path(item)) as AsyncIterable<Buffer>) await writer.write(chunk);
      const released = item.prependHeaders.replace(/^X-Mxward-Verdict: quarantine\r\n/m, `X-Mxward-Verdict: quarantine; released ${item.id} by ${by.replace(/[^\x21-\x7e]/g, '_')}\r\n`);
      await this.#o.spool.commit(writer, newEnvelope({ queueId, mailFrom: item.mailFrom, recipients, prependHeaders: released, transactionId: item.transactionId, now: this.#now() }));
    } catch (err) {
      await writer.discard();
      throw err;
    }
  }

  async #get(id: string): Promise<QuarantineItem> {
    const item = await this.#o.store.getQuarantined(id);
    if (!item) throw new QuarantineError(`no quarantined message ${id}`, 'not_found');
    return item;
  }

  /** Administrators may do anything; a recipient only what the item's policy allows (SPEC §6). */
  async #authorize(id: string, actor: Actor, action: UserAction): Promise<QuarantineItem> {
    const item = await this.#get(id);
    if (!actor.asRecipient) return item;
    const me = actor.asRecipient.toLowerCase();
    if (!item.recipients.some((r) => r.address === me && r.state !== 'deleted')) {
      throw new QuarantineError(`${id}: ${actor.asRecipient} is not a recipient of this message`, 'not_found');
    }
    const check = checkUserAction(policyNamed(item.policy), action);
    if (!check.allowed) {
      await this.#audit(actor, `quarantine.${action}.refused`, { id, policy: item.policy });
      throw new QuarantineError(`${id}: refused: ${check.reason}`, 'forbidden');
    }
    return item;
  }

  #adminOnly(actor: Actor, action: string): void {
    if (actor.asRecipient) throw new QuarantineError(`${action} is an administrator action; it cannot be done --as a recipient`, 'forbidden');
  }

  #path(item: QuarantineItem): string {
    return join(this.#o.dir, item.file);
  }

  #auditOf(actor: Actor, action: string, detail: unknown = {}) {
    return { actor: actor.asRecipient ? `${actor.name} as ${actor.asRecipient}` : actor.name, action, detail };
  }

  async #audit(actor: Actor, action: string, detail: unknown): Promise<void> {
    await this.#o.store.appendQuarantineAudit(this.#auditOf(actor, action, detail));
  }
}
