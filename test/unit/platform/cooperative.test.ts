// Long work that calls checkpoint() between small steps lets waiting callbacks run every few milliseconds, and stops
// at the next checkpoint once the work it belongs to is cancelled.
import { checkpoint, runCancellable, SLICE_MS } from '../../../shared/platform/cooperative';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

/** 300 ms of work in 1 ms steps; `cooperative` calls checkpoint() after each. Resolves with when a 0 ms timer set
 * at the start fired, in ms after the start. */
async function work(cooperative: boolean): Promise<number> {
  const start = performance.now();
  let firedAt = Infinity;
  setTimeout(() => (firedAt = performance.now() - start), 0);
  for (let i = 0; i < 300; i++) {
    busy(1);
    if (cooperative) await checkpoint();
  }
  await new Promise((r) => setTimeout(r, 0));
  return firedAt;
}

describe('checkpoint', () => {
  it('gives the event loop a turn within a few slices of work; without it a timer waits for the whole computation', async () => {
    expect(await work(false)).toBeGreaterThanOrEqual(300);
    // Two slices of margin: the loop's first turn may go to the check phase before the timers phase.
    expect(await work(true)).toBeLessThan(3 * SLICE_MS + 50);
  });

  it('throws the reason once the work it runs under is cancelled, and never outside cancellable work', async () => {
    const controller = new AbortController();
    let steps = 0;
    const run = runCancellable(controller.signal, async () => {
      for (;;) {
        busy(1);
        steps++;
        await checkpoint();
      }
    });
    setTimeout(() => controller.abort(new Error('stopping')), 20);
    await expect(run).rejects.toThrow('stopping');
    expect(steps).toBeGreaterThan(5);
    await expect(checkpoint()).resolves.toBeUndefined();
  });
});
