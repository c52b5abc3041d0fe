// The keyed hash of the sender domain (Feast entity key, the only sender trace in the log).
import { createHmac } from 'node:crypto';
import { senderDomainHash } from '../../../../shared/serving/predict/senderHash';

describe('senderDomainHash', () => {
  it('is HMAC-SHA256(key, lower-case domain), first 32 hex characters', () => {
    const expected = createHmac('sha256', 'k1').update('example.com').digest('hex').slice(0, 32);
    expect(senderDomainHash('Example.COM ', 'k1')).toBe(expected);
    expect(senderDomainHash('example.com', 'k1')).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{32}$/);
  });

  it('depends on the key, so a list of domains cannot be hashed without it', () => {
    expect(senderDomainHash('example.com', 'k1')).not.toBe(senderDomainHash('example.com', 'k2'));
    expect(senderDomainHash('example.com', 'k2')).toBe(createHmac('sha256', 'k2').update('example.com').digest('hex').slice(0, 32));
  });
});
