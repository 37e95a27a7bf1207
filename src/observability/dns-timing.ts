// DNS lookup latency for the metrics without touching the resolver: DnsResolver.resolve is
// wrapped once per process and reports to every running gateway's histogram (one in production;
// several only in tests, where the count is not what is asserted).
import { DnsResolver } from '../auth/resolver.ts';
import type { Histogram } from 'prom-client';

const observers = new Set<Histogram<'type'>>();
let wrapped = false;

export function observeDnsLookups(histogram: Histogram<'type'>): () => void {
  if (!wrapped) {
    wrapped = true;
    const original = DnsResolver.prototype.resolve;
    DnsResolver.prototype.resolve = async function timedResolve(this: DnsResolver, name: string, rrtype: string) {
      const started = process.hrtime.bigint();
      try {
        return await original.call(this, name, rrtype);
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        for (const h of observers) h.observe({ type: String(rrtype).toUpperCase() }, seconds);
      }
    };
  }
  observers.add(histogram);
  return () => { observers.delete(histogram); };
}
