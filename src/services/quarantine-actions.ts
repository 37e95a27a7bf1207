// Quarantine actions for a caller with a role (issue 13, SPEC §6 and §12), shared by
// `mxward quarantine` and the API. Two checks, both always: the caller's role (administrator and
// helpdesk act as administrators, an auditor only reads, a recipient acts on their own copies)
// and, for recipients, the permission bits of each message's quarantine policy, which
// QuarantineService enforces. Releases go through QuarantineService, whose state transition is the
// once-only guard.
import { describePermissions, checkUserAction, policyNamed } from '../quarantine/permissions.ts';
import type { UserAction } from '../quarantine/permissions.ts';
import { QuarantineError } from '../quarantine/quarantine-service.ts';
import type { Actor, QuarantineService } from '../quarantine/quarantine-service.ts';
import type { QuarantineServiceOptions } from '../quarantine/quarantine-service.ts';
import type { QuarantineItem, QuarantineRecipientState } from '../store/ports.ts';
import type { BootstrapConfig } from '../config/bootstrap.ts';

export type QuarantineRole = 'administrator' | 'helpdesk' | 'auditor' | 'recipient';

export interface QuarantineCaller {
  /** Goes into the audit log (`console:alice`, `api:ci`, `cli:root`). */
  actor: string;
  role: QuarantineRole;
  /** For recipients: the mailboxes whose copies they may see; ignored for the other roles. */
  addresses: readonly string[];
}

export type QuarantineAction = 'preview' | 'headers' | 'release' | 'request-release' | 'approve' | 'deny' | 'delete';

/** An item as its caller may see it, with the actions that caller may take on it now. */
export interface QuarantineView extends QuarantineItem {
  permissions: { bits: number; names: string; notify: boolean };
  actions: QuarantineAction[];
}

export interface QuarantineListOptions {
  /** `pending` (default): held, requested or releasing; `requested`: release requests waiting; `all`. */
  state?: 'pending' | 'requested' | 'all';
  /** Administrators only: the items of one recipient. */
  recipient?: string;
  limit: number;
  offset?: number;
}

const STATES: Record<NonNullable<QuarantineListOptions['state']>, QuarantineRecipientState[] | undefined> = {
  pending: ['held', 'requested', 'releasing'], requested: ['requested'], all: undefined,
};

/** Paging without a store cursor: the quarantine is small next to the trace, so offsets stay bounded. */
export const MAX_QUARANTINE_OFFSET = 10_000;

const isAdmin = (c: QuarantineCaller) => c.role === 'administrator' || c.role === 'helpdesk';
const lower = (a: string) => a.toLowerCase();

export class QuarantineActions {
  readonly #service: QuarantineService;

  constructor(service: QuarantineService) {
    this.#service = service;
  }

  async list(caller: QuarantineCaller, options: QuarantineListOptions): Promise<{ items: QuarantineView[]; hasMore: boolean }> {
    const offset = options.offset ?? 0;
    if (offset > MAX_QUARANTINE_OFFSET) throw new QuarantineError(`offset: at most ${MAX_QUARANTINE_OFFSET}; narrow the list instead`, 'validation_failed');
    const states = STATES[options.state ?? 'pending'];
    const want = offset + options.limit + 1;
    let items: QuarantineItem[];
    if (caller.role === 'recipient') {
      // One query per own address, merged: a person may hold several mailboxes.
      const byId = new Map<string, QuarantineItem>();
      for (const address of this.#addresses(caller)) {
        for (const item of await this.#service.list(this.#actor(caller, address), { states, all: true, limit: want })) {
          const seen = byId.get(item.id);
          byId.set(item.id, seen ? { ...seen, recipients: [...seen.recipients, ...item.recipients] } : item);
        }
      }
      // A copy the recipient deleted is gone for them, whatever `state` asks for.
      items = [...byId.values()]
        .map((i) => ({ ...i, recipients: i.recipients.filter((r) => r.state !== 'deleted') }))
        .filter((i) => i.recipients.length > 0)
        .sort((a, b) => b.time.localeCompare(a.time) || a.id.localeCompare(b.id));
    } else {
      items = await this.#service.list(this.#actor(caller, null), { states, all: true, limit: want, recipient: options.recipient ? lower(options.recipient) : undefined });
    }
    const page = items.slice(offset, offset + options.limit);
    return { items: page.map((i) => this.#view(caller, i)), hasMore: items.length > offset + options.limit };
  }

  async show(caller: QuarantineCaller, id: string): Promise<QuarantineView> {
    if (caller.role !== 'recipient') return this.#view(caller, await this.#service.show(id, this.#actor(caller, null)));
    const mine = await this.#mine(caller, id);
    const item = await this.#service.show(id, this.#actor(caller, mine[0]));
    return this.#view(caller, { ...item, recipients: item.recipients.filter((r) => mine.includes(r.address)) });
  }

  async headers(caller: QuarantineCaller, id: string): Promise<string> {
    return this.#service.headers(id, await this.#readActor(caller, id));
  }

  /** Plain text of the first text part, bounded: never HTML, never rendered. */
  async preview(caller: QuarantineCaller, id: string): Promise<string> {
    return this.#service.preview(id, await this.#readActor(caller, id));
  }

  /** Administrators release every recipient still held or requested; a recipient their own copies, where the policy allows. */
  async release(caller: QuarantineCaller, id: string): Promise<{ queueIds: string[]; recipients: string[] }> {
    this.#refuseAuditor(caller, 'release');
    if (isAdmin(caller)) {
      const r = await this.#service.release(id, this.#actor(caller, null));
      return { queueIds: [r.queueId], recipients: r.recipients };
    }
    const done = await this.#eachOwn(caller, id, (address) => this.#service.release(id, this.#actor(caller, address)));
    return { queueIds: done.map((r) => r.queueId), recipients: done.flatMap((r) => r.recipients) };
  }

  async requestRelease(caller: QuarantineCaller, id: string): Promise<{ recipients: string[] }> {
    if (caller.role !== 'recipient') throw new QuarantineError('request-release is a recipient action; administrators release or approve directly', 'validation_failed');
    const moved = await this.#eachOwn(caller, id, (address) => this.#service.requestRelease(id, this.#actor(caller, address)));
    return { recipients: moved.flat() };
  }

  async approve(caller: QuarantineCaller, id: string): Promise<{ queueIds: string[]; recipients: string[] }> {
    this.#adminOnly(caller, 'approve');
    const r = await this.#service.approve(id, this.#actor(caller, null));
    return { queueIds: [r.queueId], recipients: r.recipients };
  }

  async deny(caller: QuarantineCaller, id: string): Promise<{ recipients: string[] }> {
    this.#adminOnly(caller, 'deny');
    return { recipients: await this.#service.deny(id, this.#actor(caller, null)) };
  }

  /** Administrators delete the message; a recipient deletes their own copies, where the policy allows. */
  async delete(caller: QuarantineCaller, id: string): Promise<{ recipients: string[] }> {
    this.#refuseAuditor(caller, 'delete');
    if (isAdmin(caller)) return { recipients: await this.#service.delete(id, this.#actor(caller, null)) };
    const removed = await this.#eachOwn(caller, id, (address) => this.#service.delete(id, this.#actor(caller, address)));
    return { recipients: removed.flat() };
  }

  /** What this caller may do with this item right now (the console shows only these buttons). */
  actionsFor(caller: QuarantineCaller, item: QuarantineItem): QuarantineAction[] {
    const states = new Set(item.recipients.map((r) => r.state));
    const held = states.has('held');
    const requested = states.has('requested');
    if (caller.role === 'auditor') return ['preview', 'headers'];
    if (isAdmin(caller)) {
      const out: QuarantineAction[] = ['preview', 'headers'];
      if (held || requested) out.push('release');
      if (requested) out.push('approve', 'deny');
      out.push('delete');
      return out;
    }
    const policy = policyNamed(item.policy);
    const allowed = (a: UserAction) => checkUserAction(policy, a).allowed;
    const out: QuarantineAction[] = [];
    if (allowed('preview')) out.push('preview');
    if (allowed('headers')) out.push('headers');
    if ((held || requested) && allowed('release')) out.push('release');
    else if (held && allowed('request-release')) out.push('request-release');
    if ((held || requested) && allowed('delete')) out.push('delete');
    return out;
  }

  #view(caller: QuarantineCaller, item: QuarantineItem): QuarantineView {
    const policy = policyNamed(item.policy);
    return { ...item, permissions: { bits: policy.permissions, names: describePermissions(policy.permissions), notify: policy.notify }, actions: this.actionsFor(caller, item) };
  }

  /** The caller's own addresses among the message's live recipients; not_found when none (existence is not revealed). */
  async #mine(caller: QuarantineCaller, id: string): Promise<string[]> {
    const own = new Set(this.#addresses(caller));
    const item = await this.#service.find(id);
    const mine = (item?.recipients ?? []).filter((r) => own.has(r.address) && r.state !== 'deleted').map((r) => r.address);
    if (mine.length === 0) throw new QuarantineError(`no quarantined message ${id}`, 'not_found');
    return mine;
  }

  /**
   * The action once per own copy (a person with two mailboxes among the recipients). A copy
   * already done (released, requested) does not undo the others; only when none could be done
   * is the first refusal the answer.
   */
  async #eachOwn<T>(caller: QuarantineCaller, id: string, act: (address: string) => Promise<T>): Promise<T[]> {
    const done: T[] = [];
    let refusal: unknown = null;
    for (const address of await this.#mine(caller, id)) {
      try {
        done.push(await act(address));
      } catch (err) {
        if (!(err instanceof QuarantineError)) throw err;
        refusal ??= err;
      }
    }
    if (done.length === 0 && refusal) throw refusal;
    return done;
  }

  async #readActor(caller: QuarantineCaller, id: string): Promise<Actor> {
    if (caller.role !== 'recipient') return this.#actor(caller, null);
    return this.#actor(caller, (await this.#mine(caller, id))[0]);
  }

  /**
   * Only address-shaped entries: an empty one would reach the quarantine service as "no
   * recipient", which means every recipient (the administrator's view).
   */
  #addresses(caller: QuarantineCaller): string[] {
    return [...new Set(caller.addresses.map(lower))].filter((a) => /^[^@\s]+@[^@\s]+$/.test(a));
  }

  #actor(caller: QuarantineCaller, asRecipient: string | null): Actor {
    return { name: caller.actor, asRecipient };
  }

  #refuseAuditor(caller: QuarantineCaller, action: string): void {
    if (caller.role === 'auditor') throw new QuarantineError(`an auditor reads the quarantine and cannot ${action}`, 'forbidden');
  }

  #adminOnly(caller: QuarantineCaller, action: string): void {
    if (!isAdmin(caller)) throw new QuarantineError(`${action} is for administrators and the helpdesk`, 'forbidden');
  }
}

/** How long a digest's console link lets its recipient in: a few days of reading mail late. */
export const DIGEST_LINK_TTL_MS = 3 * 86_400_000;

/** Signs a recipient link for an address until a time (the console identity service's signer). */
export type RecipientLinkSigner = (address: string, expiresAt: Date) => string;

/**
 * The digest's signed console link (issue 13), for startQuarantine's `recipientLink` in app.ts:
 * `https://<hostname>:<console port>/console/#/r/<token>`, so the console exchanges it for a
 * recipient session for exactly that address. The signer is the console's (its key is shared by
 * every node through the store), asked for at digest time because the console starts after the
 * quarantine; no console, or none in this process: no link, and the digest names the CLI.
 */
export function digestLinks(config: BootstrapConfig, signer: () => RecipientLinkSigner | null, ttlMs = DIGEST_LINK_TTL_MS): QuarantineServiceOptions['recipientLink'] {
  const web = config.console;
  if (!web) return undefined;
  return (address, now) => {
    const sign = signer();
    if (!sign) return null;
    const expiresAt = new Date(now.getTime() + ttlMs);
    const url = `${web.tls ? 'https' : 'http'}://${config.hostname}:${web.port}/console/#/r/${sign(address, expiresAt)}`;
    return { url, expiresAt };
  };
}
