// Full collections at the points where the report's threads know their heaps hold garbage (issue
// 17). A reading thread's old generation fills with the arrays its sources replace (a source's
// counters, recipients and subjects are arrays of exactly their size, copied when they grow), and
// V8 lets a heap grow to up to four times its live data before it marks: at 20M rows each thread
// held 90 to 100 MB live in heaps of 150 to 330 MB, and the merge of a worker's sources grew the
// main thread's heap by another 90 MB of garbage while the worker's heap was still there. V8's
// own growing factor cannot be lowered for one heap without a hard limit (which ends in an
// out-of-memory abort), and lowering it for all (--heap-growing-percent) cost 10 to 20 % more
// CPU in alternated runs. A collection here runs only when the heap grew by a fixed step since the
// last one (looked at every 16,384 rows, and after each batch of a worker's sources merged), at
// the end of a range, and in a worker every 32 batches of sources it sent (they are garbage there):
// at 20M rows some 35 full collections instead of 14, about 2.5 s more of collection pauses
// against 65 to 80 s of CPU, and peak RSS 385 MB instead of 460 to 690.
//
// `gc` is the function Node gives with --expose-gc (the report's child Node is started with it,
// bin/node-runtime.js); without it (the report run in-process: tests, the web API) nothing here
// collects.
import { getHeapStatistics } from 'node:v8';

/** Bytes of heap growth since the last collection that make the next one (see the top comment). */
export const COLLECT_STEP_BYTES = 32 << 20;

/** The global gc() of --expose-gc, or null. */
export function exposedGc(): (() => void) | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as () => void) : null;
}

const heapUsed = (): number => getHeapStatistics().used_heap_size;

/**
 * Collects when the heap grew by `step` bytes since the last collection it made (or since it was
 * made), and on request (`collect()`). `gc` null: never collects.
 */
export class HeapCollector {
  readonly #gc: (() => void) | null;
  readonly #used: () => number;
  readonly #step: number;
  #base: number;
  /** Collections made (for tests and traces). */
  collections = 0;

  constructor(gc: (() => void) | null = exposedGc(), used: () => number = heapUsed, step = COLLECT_STEP_BYTES) {
    this.#gc = gc;
    this.#used = used;
    this.#step = step;
    this.#base = gc === null ? 0 : used();
  }

  /** A full collection now (when there is a gc()). */
  collect(): void {
    if (this.#gc === null) return;
    this.#gc();
    this.collections++;
    this.#base = this.#used();
  }

  /** Collects if the heap grew by `step` (default: the collector's) since the last collection; whether it did. */
  maybeCollect(step = this.#step): boolean {
    if (this.#gc === null || this.#used() - this.#base < step) return false;
    this.collect();
    return true;
  }
}
