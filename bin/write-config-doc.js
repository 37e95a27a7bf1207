#!/usr/bin/env node
// `npm run docs:config`: rewrites docs/configuration.md from the zod schemas (src/config/config-reference.ts).
import { writeFileSync } from 'node:fs';

const { renderConfigurationReference } = await import('../src/config/config-reference.ts');
const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, await renderConfigurationReference());
process.stdout.write('wrote docs/configuration.md\n');
