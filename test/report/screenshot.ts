// `node test/report/screenshot.ts`: regenerates docs/report.png from the fixture report (the
// same page the Chromium test checks). Not a test; run by hand when the HTML changes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumArgs, writeFixtureReport } from './html-fixture.ts';

const dir = await mkdtemp(join(tmpdir(), 'mxward-shot-'));
try {
  const file = join(dir, 'report.html');
  await writeFixtureReport(file);
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: '/usr/bin/chromium', args: chromiumArgs, headless: true, viewport: { width: 1280, height: 1400 } });
  const page = await context.newPage();
  await page.goto(pathToFileURL(file).href);
  const out = fileURLToPath(new URL('../../docs/report.png', import.meta.url));
  await page.screenshot({ path: out, fullPage: false });
  await context.close();
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
