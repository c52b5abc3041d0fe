// The time in a Date: or Received: header value. One definition for the feature transformer (is the Date header
// valid?) and the corpus loader (when did a message arrive?).

/**
 * `value` without a trailing RFC 5322 comment such as `(IST)`, which Date.parse does not accept. Written as a scan
 * rather than `/\s*\([^)]*\)\s*$/`: on a header of many spaces that regex backtracks quadratically (a 150 kB
 * Date header took 45 s), and headers come from whoever sends the mail.
 */
export function withoutTrailingComment(value: string): string {
  const end = value.trimEnd();
  if (!end.endsWith(')')) return value;
  const open = end.indexOf('(', end.lastIndexOf(')', end.length - 2) + 1);
  return open < 0 ? value : end.slice(0, open).trimEnd();
}

/** Epoch ms of a mail date header value (a trailing comment ignored), NaN when it does not parse. */
export function parseMailDate(value: string): number {
  return Date.parse(withoutTrailingComment(value).trim());
}
