// The target the queue runner sees when delivery routes are configured: it splits a job's
// recipients by destination (routing.ts), hands each group to that destination's target (one
// connection pool per destination) and puts the outcomes back in the order asked for.
import type { DeliveryJob, DeliveryTarget, RecipientOutcome } from '../delivery.ts';
import type { Route, RoutingTable } from '../routing.ts';
import { groupByRoute } from '../routing.ts';
import { SmtpRelayTarget } from './smtp-relay.ts';

export class RoutedTarget implements DeliveryTarget {
  readonly name = 'routed';
  readonly #table: RoutingTable;
  readonly #targets = new Map<string, DeliveryTarget>();
  readonly #makeTarget: (route: Route) => DeliveryTarget;

  /** `maildir` is the embedded target shared by every route of that type. */
  constructor(table: RoutingTable, heloName: string, maildir: DeliveryTarget) {
    this.#table = table;
    this.#makeTarget = (route) => (route.type === 'maildir' ? maildir : new SmtpRelayTarget(route, heloName));
  }

  async deliver(job: DeliveryJob): Promise<RecipientOutcome[]> {
    const outcomes = new Array<RecipientOutcome>(job.recipients.length);
    await Promise.all(groupByRoute(this.#table, job.recipients).map(async (group) => {
      const target = this.#targetFor(group.key, group.route);
      const recipients = group.indexes.map((i) => job.recipients[i]);
      let results: RecipientOutcome[];
      try {
        results = await target.deliver({ ...job, recipients });
      } catch (err) {
        // A target must not throw for a remote refusal; if one does anyway, retry later.
        results = recipients.map(() => ({ status: 'deferred', reply: `delivery error: ${(err as Error).message}` }));
      }
      group.indexes.forEach((i, n) => { outcomes[i] = results[n]; });
    }));
    return outcomes;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#targets.values()].map((t) => t.close?.()));
  }

  #targetFor(key: string, route: Route): DeliveryTarget {
    let target = this.#targets.get(key);
    if (!target) {
      target = this.#makeTarget(route);
      this.#targets.set(key, target);
    }
    return target;
  }
}
