// Builds the email-authentication check from the bootstrap settings (called from app.ts).
import type { BootstrapConfig } from '../config/bootstrap.ts';
import type { EndOfDataCheck } from '../smtp/context.ts';
import { AuthCheck } from './auth-check.ts';
import { DnsResolver, parseServer } from './resolver.ts';

export function buildAuthChecks(config: BootstrapConfig): EndOfDataCheck[] {
  const a = config.auth;
  if (!a.enabled) return [];
  const resolver = new DnsResolver({
    servers: a.dnsServers.map(parseServer), timeoutMs: a.dnsTimeoutMs, tries: a.dnsTries,
    maxCacheEntries: a.dnsCacheEntries, maxTtlSeconds: a.dnsMaxTtlSeconds,
  });
  return [new AuthCheck({ settings: a, resolver, authservId: config.authservId ?? config.hostname })];
}
