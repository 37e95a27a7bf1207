// The fixture report as HTML, shared by the Chromium test and the docs screenshot script.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward } from '../helpers/commands.ts';
import { fixture } from './helpers.ts';

/** Writes the fixture report as HTML to `file`. */
export async function writeFixtureReport(file: string): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-html-'));
  try {
    const inputs = ['message-trace-v2.csv', 'eac-extended-utf16.csv', 'emailevents.csv', 'messages/direct-send-spoof.eml', 'messages/two-messages.mbox', 'broken/bad-date.csv'].map(fixture);
    const r = await mxward(dataDir, ['report', ...inputs, '--accepted-domain', 'contoso.com', '--connectors', fixture('inbound-connectors.json'), '--known-sender', '203.0.113.0/24=office-printers', '--format', 'html', '--output', file]);
    assert.equal(r.code, 1, `one broken row is part of the fixture set: ${r.stderr}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

