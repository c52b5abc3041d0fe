// Console logging for the local host, in the spirit of Core Tools' output: one line per event, prefixed with the
// function name for invocation logs.
import type { LogHandler } from '@azure/functions';

export interface HostLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, err?: unknown): void;
  debug(message: string): void;
}

function time(): string {
  return new Date().toISOString().slice(11, 23);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}

/** `verbose`: print debug lines too; read when a line is written, so it can follow settings loaded after start. */
export function consoleLogger(options: { verbose?: boolean | (() => boolean) } = {}): HostLogger {
  const verbose = () => (typeof options.verbose === 'function' ? options.verbose() : options.verbose === true);
  return {
    info: (m) => console.log(`[${time()}] ${m}`),
    warn: (m) => console.warn(`[${time()}] WARN ${m}`),
    error: (m, err) => console.error(`[${time()}] ERROR ${m}${err === undefined ? '' : `: ${describe(err)}`}`),
    debug: (m) => {
      if (verbose()) console.log(`[${time()}] ${m}`);
    },
  };
}

export function invocationLogHandler(logger: HostLogger, functionName: string): LogHandler {
  return (level, ...args) => {
    const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? describe(a) : JSON.stringify(a))).join(' ');
    const line = `${functionName}: ${text}`;
    if (level === 'error' || level === 'critical') logger.error(line);
    else if (level === 'warning') logger.warn(line);
    else if (level === 'debug' || level === 'trace') logger.debug(line);
    else logger.info(line);
  };
}

/**
 * A warning that is written at most once per `intervalMs`; the next one written says how many were left out, so a
 * burst (clients aborting uploads, say) costs a line per interval, not a line per event.
 */
export function rateLimitedWarning(logger: HostLogger, intervalMs: number): (message: string) => void {
  let last = -Infinity;
  let skipped = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      skipped += 1;
      return;
    }
    logger.warn(skipped ? `${message} (and ${skipped} more like it since the last one)` : message);
    last = now;
    skipped = 0;
  };
}
