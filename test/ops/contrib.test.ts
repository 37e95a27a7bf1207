// Issue 16: the example Grafana dashboard and alert rules only use metrics the gateway exports,
// so they keep working when a metric is renamed (this test fails first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { repoRoot } from '../helpers/commands.ts';

const exported = async () => {
  const metrics = new GatewayMetrics({ policyVersion: () => 1, queueDir: '/nonexistent', probeStore: async () => {} });
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
};
const named = (text: string) => [...new Set([...text.matchAll(/\b(mxward_[a-z_]+|process_[a-z_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, '')))];

test('the Grafana dashboard parses and every panel queries an exported metric', async () => {
  const text = readFileSync(join(repoRoot, 'contrib/grafana/mxward-dashboard.json'), 'utf8');
  const dashboard = JSON.parse(text) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  assert.ok(dashboard.panels.length >= 10);
  for (const panel of dashboard.panels) assert.ok(panel.targets.length > 0 && panel.targets.every((t) => t.expr), panel.title);
  const have = await exported();
  for (const name of named(text)) assert.ok(have.has(name), `dashboard uses ${name}, which is not exported`);
  for (const needed of ['mxward_transactions_total', 'mxward_queue_messages', 'mxward_delivery_attempts_total', 'mxward_dns_lookup_duration_seconds']) {
    assert.ok(named(text).includes(needed), `no panel for ${needed}`);
  }
});

test('the alert rules cover a growing queue, failing deliveries and a store that is down', async () => {
  const text = readFileSync(join(repoRoot, 'contrib/prometheus/mxward-alerts.yml'), 'utf8');
  const rules = (parse(text) as { groups: Array<{ rules: Array<{ alert: string; expr: string; for: string }> }> }).groups.flatMap((g) => g.rules);
  const names = rules.map((r) => r.alert);
  for (const needed of ['MxwardQueueGrowing', 'MxwardDeliveriesFailing', 'MxwardStoreDown']) assert.ok(names.includes(needed), needed);
  for (const rule of rules) assert.match(rule.for, /^\d+[smh]$/, rule.alert);
  const have = await exported();
  for (const name of named(text)) assert.ok(have.has(name), `alert rules use ${name}, which is not exported`);
});
