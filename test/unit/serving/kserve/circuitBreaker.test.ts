// The circuit breaker and retry budget as state machines (an injected clock: these are pure logic).
import { CircuitBreaker, RetryBudget } from '../../../../shared/serving/kserve/circuitBreaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const breaker = () => new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now });

  beforeEach(() => {
    now = 0;
  });

  it('opens after the threshold of consecutive failures and fails fast during the cooldown', () => {
    const b = breaker();
    for (let i = 0; i < 2; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.onFailure();
    }
    expect(b.currentState).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.currentState).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    now = 400;
    expect(b.tryAcquire()).toBe(false);
    expect(b.retryAfterSeconds()).toBe(1);
  });

  it('lets one probe through after the cooldown; success closes, failure re-opens', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    now = 1000;
    expect(b.currentState).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // one probe at a time
    b.onFailure();
    expect(b.currentState).toBe('open');
    now = 2000;
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.currentState).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
    expect(b.snapshot()).toEqual({ state: 'closed', consecutive_failures: 0, opens: 2 });
  });

  it('release() (an outcome that says nothing about health) frees the probe without closing or re-opening', () => {
    const b = breaker();
    b.onFailure();
    b.onFailure();
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.snapshot()).toEqual({ state: 'closed', consecutive_failures: 2, opens: 0 });
    b.onFailure();
    expect(b.currentState).toBe('open');
    now = 1000;
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.release();
    expect(b.currentState).toBe('half-open');
    expect(b.tryAcquire()).toBe(true); // the next call probes again
    b.onSuccess();
    expect(b.currentState).toBe('closed');
  });

  it('a success resets the count of consecutive failures', () => {
    const b = breaker();
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.currentState).toBe('closed');
  });
});

describe('RetryBudget', () => {
  it('allows the reserve, then one retry per 1/ratio calls', () => {
    const budget = new RetryBudget(0.2, 10, 2);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    for (let i = 0; i < 4; i++) budget.deposit();
    expect(budget.tryWithdraw()).toBe(false);
    budget.deposit();
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('caps the balance', () => {
    const budget = new RetryBudget(1, 3, 0);
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.available).toBe(3);
  });
});
