// An email as the API receives it (structured fields or raw RFC 822) and as the features see it after one parse.
// Both input forms go through the same parser: a structured email is first written as the RFC 822 message it
// describes, so the raw and structured forms of one email give the same features by construction.
//
// Parsing is done by libraries, not regexes over the raw text: mailparser decodes headers (RFC 2047), bodies
// (base64, quoted-printable, charsets via iconv) and converts HTML to text; its MIME splitter (@zone-eu/mailsplit)
// walks the MIME tree for the part metadata mailparser does not expose (transfer encodings, charsets per part).
//
// That walk comes first and bounds what the libraries are given, so that no message costs more than its size
// allows (docs/gateway.md, parsing bounds): headers past MAX_HEADER_BYTES are refused, and HTML past the
// html-to-text budget is converted by the linear htmlText.ts instead.
import type { Transform } from 'node:stream';
import { Splitter } from '@zone-eu/mailsplit';
import { simpleParser } from 'mailparser';
import type { AddressObject } from 'mailparser';
import { z } from 'zod';
import { htmlToPlainText } from './htmlText';
import { trimTrailing } from './trimTrailing';

/**
 * Header bytes of one message, the headers of its MIME parts included, beyond which it is refused. mailparser decodes
 * every header line and parses every address header of every part (1 MB of `To: g:a@b.c;` groups took 1-2.6 s);
 * 64 KiB of the costliest kind takes about 40 ms. Real mail stays far below: the corpus' largest is 15 KB.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/**
 * HTML that html-to-text converts per message, and in how many parts. Its word wrapping copies a word that runs
 * across tags at every tag, quadratic in the word (1 MiB of `<img src=cid:x>` took 10-14 s), and each call costs
 * about a millisecond of set-up (1,000 small HTML parts took 0.9 s). Within these bounds its worst case is about
 * 30 ms; the corpus' largest converted HTML is 47 kB in one part, so training and serving see the same text.
 * Past them the HTML goes to htmlToPlainText, which is linear.
 */
export const HTML_TO_TEXT_MAX_BYTES = 64 * 1024;
export const HTML_TO_TEXT_MAX_PARTS = 4;

export interface StructuredEmail {
  readonly subject: string;
  readonly from: string;
  readonly to: string | readonly string[];
  /** Further headers by name (e.g. In-Reply-To, List-Id, X-Mailer). From/To/Subject/Content-Type come from the fields. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** The body as text; with a multipart `contentType`, the MIME body including its boundaries. */
  readonly body: string;
  /** Content-Type of the body; `text/plain` when absent. */
  readonly contentType?: string;
}

export interface RawEmail {
  /** The whole RFC 822 message: its bytes, or a string that carries them as `encoding` says. */
  readonly raw: string | Buffer;
  /**
   * How a string `raw` carries the bytes: `utf8` (the default: the text, encoded back as UTF-8; an 8-bit message in
   * another charset cannot travel that way byte for byte) or `base64` (the exact bytes, whatever their charset).
   */
  readonly encoding?: 'utf8' | 'base64';
}

export type EmailInput = StructuredEmail | RawEmail;

export function isRawEmail(input: EmailInput): input is RawEmail {
  return 'raw' in input;
}

const headerValue = z.union([z.string(), z.array(z.string())], { error: 'expected a header value (a string) or an array of them' });

/** The JSON shape of one email in the predict/transform APIs (docs/gateway.md, API). */
export const emailInputSchema = z.union([
  z.object({
    raw: z.string().min(1, 'raw must be a non-empty RFC 822 message'),
    encoding: z.enum(['utf8', 'base64']).optional(),
  }),
  z.object({
    subject: z.string(),
    from: z.string(),
    to: z.union([z.string(), z.array(z.string())], { error: 'expected an address (a string) or an array of addresses' }),
    headers: z.record(z.string(), headerValue).optional(),
    body: z.string(),
    contentType: z.string().optional(),
  }),
]);

/** One leaf of the MIME tree. */
export interface MimePart {
  readonly contentType: string;
  /** Content-Transfer-Encoding, lower case; '' when absent. */
  readonly encoding: string;
  /** Declared charset, lower case; '' when absent. */
  readonly charset: string;
  readonly disposition: string;
}

export interface Mailbox {
  readonly address: string;
  readonly name: string;
  /** Lower case; '' when the address has no domain. */
  readonly domain: string;
}

/** What the feature transformer needs from an email, computed once per message. */
export interface ParsedEmail {
  readonly subject: string;
  readonly from?: Mailbox;
  /** The From domain, lower case: the Feast entity (before keyed hashing). Undefined when there is no usable From. */
  readonly senderDomain?: string;
  readonly replyTo?: Mailbox;
  readonly recipientCount: number;
  /** Top-level headers by lower-case name, values unfolded and trimmed, in order of appearance. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /** Decoded text of the body: the text/plain parts, or the HTML converted to text when there is none. */
  readonly text: string;
  /** Decoded HTML of the body, when it has an HTML part. */
  readonly html?: string;
  readonly parts: readonly MimePart[];
  readonly hasTextPart: boolean;
  readonly hasHtmlPart: boolean;
  readonly attachmentCount: number;
}

/** First value of a top-level header, or undefined. */
export function header(email: ParsedEmail, name: string): string | undefined {
  return email.headers.get(name.toLowerCase())?.[0];
}

// Header values reach the message as single lines: a CR or LF in a structured field must not start a new header.
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

const fieldHeaders = new Set(['from', 'to', 'subject', 'content-type', 'mime-version']);

/**
 * Why `name` cannot be a header of a structured email's `headers`: not an RFC 5322 field name, or a header the
 * structured fields write (from, to, subject, contentType). undefined when it can. toRfc822 leaves such names out;
 * the API refuses them, so a caller learns that a header it sent was not used.
 */
export function headerNameProblem(name: string): string | undefined {
  if (!/^[!-9;-~]+$/.test(name)) return 'not a header name (printable ASCII without spaces or colons)';
  if (fieldHeaders.has(name.toLowerCase())) return 'given by its own field (subject, from, to, contentType), not in headers';
  return undefined;
}

/**
 * The RFC 822 message a structured email describes. Text bodies are JS strings, so they are written as UTF-8 and
 * declared so; a Content-Transfer-Encoding among `headers` is honoured (the body is then taken as encoded).
 */
export function toRfc822(email: StructuredEmail): Buffer {
  const lines: string[] = [];
  let encodingGiven = false;
  for (const [name, value] of Object.entries(email.headers ?? {})) {
    if (headerNameProblem(name)) continue;
    if (name.toLowerCase() === 'content-transfer-encoding') encodingGiven = true;
    for (const v of typeof value === 'string' ? [value] : value) lines.push(`${name}: ${oneLine(v)}`);
  }
  const to = typeof email.to === 'string' ? email.to : email.to.join(', ');
  lines.push(`From: ${oneLine(email.from)}`, `To: ${oneLine(to)}`, `Subject: ${oneLine(email.subject)}`);
  lines.push('MIME-Version: 1.0', `Content-Type: ${utf8ContentType(oneLine(email.contentType ?? 'text/plain'))}`);
  if (!encodingGiven) lines.push('Content-Transfer-Encoding: 8bit');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${email.body}`, 'utf8');
}

// A text/* body given as a JS string is UTF-8 on the wire, whatever charset the caller named.
function utf8ContentType(contentType: string): string {
  if (!/^\s*text\//i.test(contentType)) return contentType;
  const base = contentType.replace(/;\s*charset\s*=\s*("[^"]*"|[^;]*)/i, '');
  return `${base}; charset=utf-8`;
}

/**
 * The structured form a client would send for a parsed message: its From, To and Subject and its text body, no other
 * header and no MIME structure (the API's structured form never carries transport headers). Training scores and
 * fits on it through `parseEmail`, the gateway's own path for that form, so the two compute the same features.
 */
export function structuredProjection(email: ParsedEmail): StructuredEmail {
  return { subject: email.subject, from: header(email, 'from') ?? '', to: header(email, 'to') ?? '', body: email.text };
}

/**
 * Standard base64 (RFC 4648 §4), padded, line breaks allowed as in MIME: the alphabet, at most two `=` at the end, a
 * multiple of 4 characters. One character class and a length test: a grouped repetition such as `(?:[..]{4})*`
 * overflows V8's regex stack on a few megabytes.
 */
function isBase64(text: string): boolean {
  const compact = text.replace(/\r?\n/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

/** Why a raw email's string cannot be decoded as its `encoding` says; undefined when it can. */
export function rawEncodingProblem(input: RawEmail): string | undefined {
  if (input.encoding !== 'base64' || typeof input.raw !== 'string') return undefined;
  return isBase64(input.raw) ? undefined : 'raw is not valid base64 (encoding is "base64")';
}

/** The bytes of an email as RFC 822. */
export function emailSource(input: EmailInput): Buffer {
  if (!isRawEmail(input)) return toRfc822(input);
  if (typeof input.raw !== 'string') return input.raw;
  const problem = rawEncodingProblem(input);
  if (problem) throw new RangeError(problem);
  return input.encoding === 'base64' ? Buffer.from(input.raw, 'base64') : Buffer.from(input.raw, 'utf8');
}

function mailbox(addresses: AddressObject | AddressObject[] | undefined): Mailbox | undefined {
  const first = (Array.isArray(addresses) ? addresses : addresses ? [addresses] : []).flatMap((a) => a.value).find((v) => v.address);
  if (!first?.address) return undefined;
  const at = first.address.lastIndexOf('@');
  // The `>`, `]`, `.` and spaces a sloppy address leaves after its domain.
  const domain = at >= 0 ? trimTrailing(first.address.slice(at + 1).toLowerCase(), (ch) => /[>\].\s]/.test(ch)) : '';
  return { address: first.address, name: first.name ?? '', domain };
}

function addressCount(addresses: AddressObject | AddressObject[] | undefined): number {
  const list = Array.isArray(addresses) ? addresses : addresses ? [addresses] : [];
  return list.reduce((n, a) => n + a.value.reduce((m, v) => m + (v.group ? v.group.length : v.address ? 1 : 0), 0), 0);
}

function headerMap(headerLines: ReadonlyArray<{ key: string; line: string }>): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const { key, line } of headerLines) {
    const colon = line.indexOf(':');
    const value = (colon >= 0 ? line.slice(colon + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim();
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  }
  return map;
}

/** What one walk of the MIME tree learns before the message is parsed. */
export interface MimeShape {
  /** The leaves, in order. */
  readonly parts: readonly MimePart[];
  /** Bytes of every header block, the parts' included. */
  readonly headerBytes: number;
  /** Encoded bytes of the text/html leaves (at least the length of their decoded text) and their number. */
  readonly htmlBytes: number;
  readonly htmlParts: number;
}

/** The MIME tree's leaves and sizes, in one pass of the splitter (linear in the message). */
export function mimeShape(source: Buffer): Promise<MimeShape> {
  return new Promise((resolve, reject) => {
    const parts: MimePart[] = [];
    let headerBytes = 0;
    let htmlBytes = 0;
    let htmlParts = 0;
    let htmlNode: unknown;
    // One oversized header block fails here, before the splitter parses it.
    const splitter = new Splitter({ maxHeadSize: MAX_HEADER_BYTES });
    splitter.on('data', (chunk) => {
      if (chunk.type === 'body') {
        if (chunk.node === htmlNode) htmlBytes += chunk.value.length;
        return;
      }
      if (chunk.type !== 'node') return;
      headerBytes += chunk.getHeaders().length;
      if (chunk.multipart) return;
      const contentType = (chunk.contentType || 'text/plain').toLowerCase();
      if (contentType === 'text/html') {
        htmlParts++;
        htmlNode = chunk;
      }
      parts.push({
        contentType,
        encoding: (chunk.encoding || '').toLowerCase(),
        charset: (chunk.charset || '').toLowerCase(),
        disposition: (chunk.disposition || '').toLowerCase(),
      });
    });
    // The package types declare only the 'data' event; Splitter is a Transform stream like any other.
    const stream = splitter as unknown as Transform;
    stream.once('error', reject);
    stream.once('end', () => resolve({ parts, headerBytes, htmlBytes, htmlParts }));
    splitter.end(source);
  });
}

/** Parse an email once; everything the features and the Feast lookup need. Linear in the message's size. */
export async function parseEmail(input: EmailInput): Promise<ParsedEmail> {
  const source = emailSource(input);
  const shape = await mimeShape(source);
  if (shape.headerBytes > MAX_HEADER_BYTES) {
    throw new RangeError(
      `the email's headers (its MIME parts' included) are ${shape.headerBytes} bytes, more than the ${MAX_HEADER_BYTES} accepted`,
    );
  }
  const htmlToText = shape.htmlBytes <= HTML_TO_TEXT_MAX_BYTES && shape.htmlParts <= HTML_TO_TEXT_MAX_PARTS;
  // keepCidLinks: embedded images stay `cid:` references instead of being inlined as data: URLs (size, speed).
  const mail = await simpleParser(source, {
    keepCidLinks: true,
    skipImageLinks: true,
    skipTextToHtml: true,
    skipHtmlToText: !htmlToText,
  });
  const from = mailbox(mail.from);
  const html = typeof mail.html === 'string' ? mail.html : undefined;
  const parts = shape.parts;
  return {
    subject: mail.subject ?? '',
    from,
    senderDomain: from?.domain || undefined,
    replyTo: mailbox(mail.replyTo),
    recipientCount: addressCount(mail.to) + addressCount(mail.cc),
    headers: headerMap(mail.headerLines ?? []),
    // Without html-to-text, mailparser leaves '' in the text for each HTML part it would have converted: a text of
    // nothing else is an HTML message's. A text with text parts too keeps theirs only.
    text: htmlToText || mail.text !== '' ? (mail.text ?? '') : htmlToPlainText(html ?? ''),
    html,
    parts,
    hasTextPart: parts.some((p) => p.contentType === 'text/plain' && p.disposition !== 'attachment'),
    hasHtmlPart: html !== undefined || parts.some((p) => p.contentType === 'text/html'),
    attachmentCount: mail.attachments.filter((a) => !a.related && a.contentDisposition !== 'inline').length,
  };
}
