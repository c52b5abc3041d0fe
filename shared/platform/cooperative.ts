// Long computations that share their process with HTTP handlers (a drift run in the local host or in a Functions
// worker next to /api/predict and /api/health) give the event loop back between slices of work, and stop at that
// point when the work they belong to is cancelled (the host is stopping). The cancellation signal travels with the
// async context, so the code that slices the work needs no handle on who started it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

const current = new AsyncLocalStorage<AbortSignal>();

/** Run `work` so that every `checkpoint()` under it, however deep and however asynchronous, throws once `signal` aborts. */
export function runCancellable<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return current.run(signal, work);
}

/** How long work runs between two turns of the event loop at most (give or take one slice of the caller's work). */
export const SLICE_MS = 5;

// When the event loop last had a turn (any caller's checkpoint counts, since they share the one loop).
let sliceStart = performance.now();

/**
 * Once the current slice has run SLICE_MS, let the timers and I/O callbacks that are waiting (an HTTP request, a
 * health probe) run, then go on; throw the abort reason when the current work was cancelled. Cheap when the slice
 * has time left (no turn of the loop): call it between steps of well under a millisecond to a few milliseconds.
 */
export async function checkpoint(): Promise<void> {
  if (performance.now() - sliceStart >= SLICE_MS) {
    await nextTurn();
    sliceStart = performance.now();
  }
  current.getStore()?.throwIfAborted();
}
