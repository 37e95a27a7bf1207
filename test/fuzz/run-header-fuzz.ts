// `npm run fuzz -- [RUNS] [SEED]`: the header fuzzer of issue 11 for as many cases as asked
// (default 1,000,000), printing the counts and the first disagreements it found.
import { fuzzHeaders } from '../helpers/header-fuzz.ts';

const runs = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
const started = Date.now();
const result = await fuzzHeaders(runs, seed);
console.log(JSON.stringify({ seed, runs: result.runs, accepted: result.accepted, refused: result.refused, disagreements: result.problems.length, seconds: Math.round((Date.now() - started) / 1000) }));
for (const p of result.problems) console.log(`${p.input}\n  ${p.problems.join('\n  ')}`);
process.exitCode = result.problems.length > 0 ? 1 : 0;
