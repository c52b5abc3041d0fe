// Emails built to make the parser do more than linear work, each grown to the largest predict request a host accepts
// (its JSON body at most `maxBodyBytes`): the shapes that held the gateway for seconds before parsing was bounded,
// and a generated set around them. The gateway must answer each in time proportional to its size (docs/gateway.md,
// parsing bounds). Type imports only, so a script can load it with Node's own type stripping.
import type { EmailInput, RawEmail, StructuredEmail } from '../../shared/serving/features/email';

export interface HostileEmail {
  readonly name: string;
  /** The predict request's body: one email, structured or raw. */
  readonly email: EmailInput;
  /** The JSON body's size in bytes. */
  readonly bytes: number;
}

const structured = (fields: Partial<StructuredEmail>): StructuredEmail => ({
  subject: 'hello',
  from: 'a@example.com',
  to: 'b@example.org',
  body: 'hi',
  ...fields,
});
const html = (body: string) => structured({ body, contentType: 'text/html' });
const raw = (headers: string, body: string): RawEmail => ({
  raw: `From: a@example.com\r\nTo: b@example.org\r\nSubject: hello\r\nMIME-Version: 1.0\r\n${headers}\r\n${body}`,
});
const multipart = (parts: readonly string[]) =>
  raw('Content-Type: multipart/mixed; boundary=b\r\n', `${parts.map((p) => `--b\r\n${p}\r\n`).join('')}--b--\r\n`);
/** `count` parts made by `part`, sharing `n` filler units between them. */
const parts = (count: number, n: number, part: (filler: string, i: number) => string) =>
  Array.from({ length: count }, (_, i) => part('word '.repeat(Math.floor(n / count)), i));

/** Just under the gateway's 64 KiB of headers: the header work allowed, the body filling the rest. */
const HEADER_FILL = 60_000;

/** A header flood of 1 MB, as reported: under the 1 MiB of header the MIME splitter takes at most. */
const HEADER_FLOOD_BYTES = 1_000_000;

// [name, the email with `n` repetitions of its pattern, the largest body]; the largest n that fits is used.
const CASES: readonly (readonly [string, (n: number) => EmailInput, number?])[] = [
  // The four reported: 10.5 s, and 0.5-1 s each.
  ['img tags run together', (n) => html('<img src=cid:x>'.repeat(n))],
  ['group addresses in To', (n) => structured({ to: 'g:a@b.c;'.repeat(n) }), HEADER_FLOOD_BYTES],
  [
    'mixed encoded words in Subject',
    (n) => structured({ subject: '=?utf-8?B?w6k=?==?iso-8859-1?Q?=E9t=E9?='.repeat(n) }),
    HEADER_FLOOD_BYTES,
  ],
  ['span tags run together', (n) => html('<span>x</span>'.repeat(n))],
  // Run-together tags and words without spaces.
  ['bold tags run together', (n) => html('<b>x</b>'.repeat(n))],
  ['table cells run together', (n) => html(`<table><tr>${'<td>x</td>'.repeat(n)}</tr></table>`)],
  ['links run together', (n) => html('<a href=http://x.example/>x</a>'.repeat(n))],
  ['line breaks run together', (n) => html('x<br>'.repeat(n))],
  ['a word without spaces, text', (n) => structured({ body: 'x'.repeat(n) })],
  ['a word without spaces, HTML', (n) => html('x'.repeat(n))],
  ['unclosed tags', (n) => html('<a'.repeat(n))],
  ['an unclosed comment', (n) => html(`<p>x</p><!--${'x'.repeat(n)}`)],
  // Nesting.
  ['divs nested as deep as the body allows', (n) => html('<div>'.repeat(n))],
  ['bold nested 999 deep, repeated', (n) => html(`${'<b>'.repeat(999)}x${'</b>'.repeat(999)}`.repeat(n))],
  ['lists nested 400 deep, repeated', (n) => html(`${'<ul><li>'.repeat(400)}a b${'</li></ul>'.repeat(400)}`.repeat(n))],
  ['quotes nested 999 deep, repeated', (n) => html(`${'<blockquote>'.repeat(999)}a b${'</blockquote>'.repeat(999)}`.repeat(n))],
  // Address lists and encoded words: past the header limit, and just under it.
  ['many addresses in To', (n) => structured({ to: 'a@b.c,'.repeat(n) }), HEADER_FLOOD_BYTES],
  ['group addresses just under the header limit', (n) => structured({ to: 'g:a@b.c;'.repeat(HEADER_FILL / 8), body: 'word '.repeat(n) })],
  [
    'encoded words just under the header limit',
    (n) => structured({ subject: '=?utf-8?B?w6k=?= =?iso-8859-1?Q?=E9?= '.repeat(HEADER_FILL / 37), body: 'word '.repeat(n) }),
  ],
  ['encoded words in a display name', (n) => structured({ from: `${'=?utf-8?Q?=C3=A9?= '.repeat(n)}<a@example.com>` }), HEADER_FLOOD_BYTES],
  [
    'encoded words in a file name',
    (n) =>
      multipart([
        `Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="${'=?utf-8?B?w6k=?='.repeat(n)}"\r\n\r\nx`,
      ]),
  ],
  ['parameter continuations in a Content-Type', (n) => multipart([`Content-Type: text/plain; ${'n*9=ab; '.repeat(n)}\r\n\r\nx`])],
  ['many header lines', (n) => raw('X-A: b\r\n'.repeat(n), 'hi'), HEADER_FLOOD_BYTES],
  // Entities.
  ['&amp; flood', (n) => html('&amp;'.repeat(n))],
  ['numeric entity flood', (n) => html('&#65;'.repeat(n))],
  ['&nbsp; flood', (n) => html('&nbsp;'.repeat(n))],
  ['no-break spaces in text', (n) => structured({ body: '\u00a0'.repeat(n) })],
  // MIME structure.
  ['more MIME parts than allowed', (n) => multipart(parts(n, 0, () => 'Content-Type: text/plain\r\n\r\nx'))],
  ['998 text parts', (n) => multipart(parts(998, n, (filler) => `Content-Type: text/plain\r\n\r\n${filler}`))],
  [
    '998 HTML parts beside a text part',
    (n) =>
      multipart(['Content-Type: text/plain\r\n\r\nx', ...parts(997, n, (filler) => `Content-Type: text/html\r\n\r\n<b>x</b>${filler}`)]),
  ],
  [
    '16 HTML parts of run-together tags beside a text part',
    (n) =>
      multipart([
        'Content-Type: text/plain\r\n\r\nx',
        ...parts(16, 0, () => `Content-Type: text/html\r\n\r\n${'<img src=cid:x>'.repeat(Math.floor(n / 16))}`),
      ]),
  ],
  [
    'quoted-printable soft line breaks',
    (n) => raw('Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n', '=\r\n'.repeat(n)),
  ],
  ['a UTF-7 body', (n) => raw('Content-Type: text/plain; charset=utf-7\r\n', '+AOk-'.repeat(n))],
];

const size = (email: EmailInput) => Buffer.byteLength(JSON.stringify(email));

/** The largest n whose email's JSON fits in `maxBodyBytes` (sizes grow about linearly in n). */
function fit(make: (n: number) => EmailInput, maxBodyBytes: number): EmailInput {
  const base = size(make(1));
  const perUnit = Math.max(1, (size(make(1001)) - base) / 1000);
  let n = Math.max(1, Math.floor((maxBodyBytes - base) / perUnit) + 1);
  let email = make(n);
  while (n > 1 && size(email) > maxBodyBytes) {
    n = Math.floor(n * 0.995);
    email = make(n);
  }
  return email;
}

/** The hostile emails (those named in `only`, when given), each as large as `maxBodyBytes` allows. */
export function hostileEmails(maxBodyBytes = 1 << 20, only?: readonly string[]): HostileEmail[] {
  return CASES.filter(([name]) => !only || only.includes(name)).map(([name, make, caseMax = maxBodyBytes]) => {
    const email = fit(make, Math.min(caseMax, maxBodyBytes));
    return { name, email, bytes: size(email) };
  });
}

/** The names of the four shapes first reported, which the gateway is also sent at once. */
export const REPORTED_HOSTILE_EMAILS: readonly string[] = CASES.slice(0, 4).map(([name]) => name);
