import { Cron } from 'croner';
import { CRONER_AS_NCRONTAB, ncrontabProblem, normalizeNcrontab } from '../../../shared/platform/ncrontab';

function nextRuns(expression: string, from: string, n: number): string[] {
  return new Cron(expression, CRONER_AS_NCRONTAB).nextRuns(n, new Date(from)).map((d) => d.toISOString());
}

describe('NCRONTAB', () => {
  it('has croner fire where Azure would: seconds first, in UTC', () => {
    expect(nextRuns('30 15 6 * * *', '2026-03-01T00:00:00Z', 2)).toEqual(['2026-03-01T06:15:30.000Z', '2026-03-02T06:15:30.000Z']);
  });

  it('has croner require the day of month and the day of week together', () => {
    // Friday the 13th only; croner's default would also fire on every Friday and every 13th.
    expect(ncrontabProblem('0 0 6 13 * FRI')).toBeUndefined();
    expect(nextRuns('0 0 6 13 * FRI', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-02-13T06:00:00.000Z', '2026-03-13T06:00:00.000Z']);
  });

  it('writes a padded or tab-separated expression with single spaces', () => {
    expect(normalizeNcrontab('  0 0\t6 *  * * ')).toBe('0 0 6 * * *');
  });
});
