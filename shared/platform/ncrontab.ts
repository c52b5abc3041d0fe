// NCRONTAB, the schedule grammar of Azure Functions timer triggers: six fields, seconds first. The app validates a
// schedule setting with it, and the local host runs the same expression with croner; both read it here, so that the
// local scheduler and Azure's can never read one expression two ways.
import type { CronOptions } from 'croner';

/** What a valid expression looks like, for messages. */
export const NCRONTAB_FORMAT = 'an NCRONTAB expression with six fields ({second} {minute} {hour} {day} {month} {day-of-week})';

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
/** NCRONTAB's six fields: name, range, and the names it accepts (month and day-of-week). */
const NCRONTAB_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 6, names: DAY_NAMES },
];

/**
 * Why a six-field expression is not one NCRONTAB (the Functions host's parser) reads: each field a comma list of
 * `*`, `v` or `v-w`, each with an optional `/step`, values in the field's range (names for months and days). What
 * other cron dialects add (`L`, `W`, `#`, `?`, day 7) is refused, so that croner (which accepts them) never runs a
 * schedule Azure would read otherwise or refuse.
 */
export function ncrontabProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) return `it has ${fields.length} fields, not 6`;
  for (const [i, field] of fields.entries()) {
    const f = NCRONTAB_FIELDS[i];
    const value = (v: string) => {
      const named = f.names?.indexOf(v.toUpperCase()) ?? -1;
      const n = named >= 0 ? named + (f.name === 'month' ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : NaN;
      return n >= f.min && n <= f.max ? n : undefined;
    };
    for (const item of field.split(',')) {
      const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
      const range = m?.[1] === '*' ? [] : (m?.[1].split('-') ?? ['']);
      const bounds = range.map(value);
      // A step needs something to step over (`*` or a range), and a range runs upwards (no wrap-around like FRI-MON).
      const wellFormed =
        m !== null &&
        bounds.every((b) => b !== undefined) &&
        (bounds.length < 2 || bounds[0] <= bounds[1]) &&
        (m[2] === undefined || (Number(m[2]) >= 1 && range.length !== 1));
      if (!wellFormed) {
        const values = `${f.min}-${f.max}${f.names ? ` or ${f.names[0]}-${f.names[f.names.length - 1]}` : ''}`;
        return `the ${f.name} field '${field}' must be a comma list of ${values} values, ranges or '*', each with an optional '/step'`;
      }
    }
  }
  return undefined;
}

/** The expression with its fields separated by single spaces (a setting may be padded or tab-separated). */
export function normalizeNcrontab(expression: string): string {
  return expression.trim().split(/\s+/).join(' ');
}

/**
 * How croner must read an expression ncrontabProblem accepts to fire when Azure's host would: six fields with
 * seconds first, in UTC (Azure's default time zone for timers), and a tick only on a day that matches both the day
 * of month and the day of week (croner's default, like Vixie cron's, is either).
 */
export const CRONER_AS_NCRONTAB = { mode: '6-part', timezone: 'UTC', domAndDow: true } as const satisfies CronOptions;
