// A circuit breaker per dependency: after `failureThreshold` consecutive failures it opens and fails fast for
// `cooldownMs`, then lets one probe through (half-open); the probe's success closes it, its failure re-opens it.
// Failing fast is what keeps a dead KServe backend from holding every request for a full timeout.
// Every call that tryAcquire() let through must end in exactly one of onSuccess(), onFailure() or release().

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  /** Injected clock (ms); tests of the state machine use a fake one, everything else `Date.now`. */
  now?: () => number;
}

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private opens = 0;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** May a call go out now? In half-open, only one probe at a time. */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.options.cooldownMs) return false;
      this.state = 'half-open';
      this.probeInFlight = false;
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** Seconds until the breaker lets a probe through (for Retry-After). */
  retryAfterSeconds(): number {
    if (this.state !== 'open') return 1;
    return Math.max(1, Math.ceil((this.options.cooldownMs - (this.now() - this.openedAt)) / 1000));
  }

  onSuccess(): void {
    this.consecutiveFailures = 0;
    this.probeInFlight = false;
    this.state = 'closed';
  }

  /**
   * The call ended with an outcome that says nothing about the dependency's health either way (for KServe: a 4xx
   * refusing this particular request). The consecutive-failure count is unchanged, and a half-open probe slot is
   * freed without closing or re-opening the breaker, so the next call probes again.
   */
  release(): void {
    this.probeInFlight = false;
  }

  onFailure(): void {
    this.probeInFlight = false;
    this.consecutiveFailures++;
    if (this.state === 'half-open' || this.consecutiveFailures >= this.options.failureThreshold) {
      if (this.state !== 'open') this.opens++;
      this.state = 'open';
      this.openedAt = this.now();
    }
  }

  get currentState(): BreakerState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) return 'half-open';
    return this.state;
  }

  snapshot(): { state: BreakerState; consecutive_failures: number; opens: number } {
    return { state: this.currentState, consecutive_failures: this.consecutiveFailures, opens: this.opens };
  }
}

/**
 * A retry budget (Finagle/gRPC style): every call deposits `ratio` tokens, every retry spends one; the balance is
 * capped. Under a broad outage retries dry up instead of multiplying the load by (1 + maxRetries).
 */
export class RetryBudget {
  private balance: number;

  constructor(
    private readonly ratio: number,
    private readonly cap = 10,
    initial = Math.min(cap, 3),
  ) {
    this.balance = initial;
  }

  deposit(): void {
    this.balance = Math.min(this.cap, this.balance + this.ratio);
  }

  tryWithdraw(): boolean {
    if (this.balance < 1) return false;
    this.balance -= 1;
    return true;
  }

  get available(): number {
    return this.balance;
  }
}
