// Parsing off the event loop. Parsing is linear in the message (email.ts), but a megabyte still takes 40-120 ms of
// CPU: on the event loop, every request arriving meanwhile would wait for it. A request whose emails are larger
// than INLINE_MAX_BYTES in all is parsed in a pool of worker threads, one per core but the one the event loop keeps;
// smaller ones, nearly all mail, are parsed in this thread, which costs them no hop and cannot make them wait behind
// a large one in the pool.
//
// The pool runs the compiled worker (parseWorker.js beside this file); where there is none (the TypeScript sources
// under test) everything is parsed in this thread.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { EmailInput, emailSource, parseEmail } from './email';
import { PreparedEmail, prepareEmail } from './transformer';

/** A request's emails up to this size in all are parsed in this thread: at most a few milliseconds. */
export const INLINE_MAX_BYTES = 16 * 1024;

interface Task {
  readonly source: Buffer;
  readonly resolve: (prepared: PreparedEmail) => void;
  readonly reject: (err: Error) => void;
}

type WorkerAnswer = { prepared: PreparedEmail; error?: undefined } | { error: string };

async function prepareInThread(source: Buffer): Promise<PreparedEmail> {
  return prepareEmail(await parseEmail({ raw: source }));
}

class ParsePool {
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly busy = new Map<Worker, Task>();
  /** False once a worker failed to start: the script cannot run here, and emails are parsed in this thread. */
  usable = true;

  constructor(
    private readonly script: string,
    size: number,
  ) {
    for (let i = 0; i < size; i++) this.idle.push(this.spawn());
  }

  run(source: Buffer): Promise<PreparedEmail> {
    return new Promise((resolve, reject) => {
      this.queue.push({ source, resolve, reject });
      this.dispatch();
    });
  }

  private spawn(): Worker {
    const worker = new Worker(this.script);
    let started = false;
    worker.once('online', () => (started = true));
    // An idle worker does not keep the process alive; one with a task does, until it answers.
    worker.unref();
    worker.on('message', (answer: WorkerAnswer) => {
      const task = this.finish(worker);
      if (answer.error !== undefined) task?.reject(new Error(answer.error));
      else task?.resolve(answer.prepared);
      this.idle.push(worker);
      this.dispatch();
    });
    // A worker that dies (out of memory on some input, say) fails its email only; a new one takes its place.
    worker.on('error', (err: Error) => {
      if (started) this.finish(worker)?.reject(err);
    });
    worker.on('exit', (code) => {
      const task = this.finish(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      if (!started) {
        this.usable = false;
        for (const t of [...(task ? [task] : []), ...this.queue.splice(0)]) prepareInThread(t.source).then(t.resolve, t.reject);
        return;
      }
      task?.reject(new Error(`the parser thread stopped (exit code ${code})`));
      this.idle.push(this.spawn());
      this.dispatch();
    });
    return worker;
  }

  private finish(worker: Worker): Task | undefined {
    const task = this.busy.get(worker);
    this.busy.delete(worker);
    worker.unref();
    return task;
  }

  private dispatch(): void {
    while (this.idle.length && this.queue.length) {
      const worker = this.idle.pop()!;
      const task = this.queue.shift()!;
      this.busy.set(worker, task);
      worker.ref();
      worker.postMessage(task.source);
    }
  }
}

let pool: ParsePool | null | undefined;

function parsePool(): ParsePool | null {
  if (pool === undefined) {
    const script = path.join(__dirname, 'parseWorker.js');
    // One core stays with the event loop (and the requests it serves meanwhile).
    pool = fs.existsSync(script) ? new ParsePool(script, Math.max(1, os.availableParallelism() - 1)) : null;
  }
  return pool;
}

/** Starts the parser threads ahead of the first large email, which would otherwise wait for them to load the parser. */
export function startParsePool(): void {
  parsePool();
}

/**
 * Each email parsed and prepared for the features, in the order given; each promise rejects with the reason its
 * email cannot be parsed.
 */
export function prepareEmails(inputs: readonly EmailInput[]): Promise<PreparedEmail>[] {
  const sources = inputs.map((input) => {
    try {
      return emailSource(input);
    } catch (err) {
      return err as Error;
    }
  });
  const bytes = sources.reduce((n, s) => n + (s instanceof Error ? 0 : s.length), 0);
  const pool = bytes > INLINE_MAX_BYTES ? parsePool() : null;
  return sources.map(async (source) => {
    if (source instanceof Error) throw source;
    return pool?.usable ? pool.run(source) : prepareInThread(source);
  });
}
