// The tokens of an email for the token-statistic features: what the sender wrote (subject, body text, link hosts,
// the sender's domain and mail software), never the headers the receiving side added (Received, Delivered-To,
// Return-Path, X-* of the collector) nor the recipient's address.
//
// The SpamAssassin corpus redacted recipients (`zzzz`, `yyyy`, `jm@`...) and its collectors' own hosts appear in
// quoted text and list footers. Those strings separate the corpus' groups by how they were collected, not by spam,
// so tokens containing them are dropped here, at serving time as well as in training (one tokenizer for both).
import type { ParsedEmail } from './email';
import { header } from './email';
import { trimTrailing } from './trimTrailing';

/** Substrings that mark a token as a corpus-collection artefact rather than content. */
export const ARTEFACT_MARKERS: readonly string[] = [
  'zzzz',
  'yyyy',
  'jm@',
  'jmason',
  'taint.org',
  'netnoteinc',
  'slashnull',
  'spamassassin',
  'localhost',
];

/** Only this much text is tokenised: spam rarely hides its vocabulary past the first 100 KB, and it bounds the cost of a 2 MB body. */
export const MAX_TOKENISED_CHARS = 100_000;

const MIN_TOKEN = 2;
const MAX_TOKEN = 24;

const wordPattern = /[\p{L}\p{N}$][\p{L}\p{N}$'.\-_@]*[\p{L}\p{N}$]|[\p{L}\p{N}$]/gu;
const urlHostPattern = /\b(?:https?:\/\/|www\.)([a-z0-9.-]+)/gi;

/** The text names a corpus-collection artefact (a redaction string, a collector's host or domain). */
export function isCorpusArtefact(text: string): boolean {
  return ARTEFACT_MARKERS.some((m) => text.includes(m));
}

function addWords(out: Set<string>, text: string, prefix: string): void {
  for (const m of text.toLowerCase().matchAll(wordPattern)) {
    let w = m[0];
    if (w.length < MIN_TOKEN || isCorpusArtefact(w)) continue;
    // Long digit runs (order numbers, phone numbers, dates) are unique per message; their shape is what generalises.
    if (/^\d{5,}$/.test(w)) w = `#digits${Math.min(w.length, 12)}`;
    else if (w.length > MAX_TOKEN) w = w.slice(0, MAX_TOKEN);
    out.add(prefix + w);
  }
}

/** Hosts named in the text or HTML, lower case, without a leading `www.`. */
export function urlHosts(text: string): string[] {
  const hosts: string[] = [];
  for (const m of text.matchAll(urlHostPattern)) {
    const host = trimTrailing(m[1].toLowerCase(), (ch) => ch === '.').replace(/^www\./, '');
    if (host) hosts.push(host);
  }
  return hosts;
}

/** The registrable-looking tail of a host: its last two labels (example.co.uk reads as co.uk; good enough for tokens). */
export function domainTail(host: string): string {
  return host.split('.').filter(Boolean).slice(-2).join('.');
}

/**
 * The distinct tokens of an email. Prefixes keep contexts apart: `s:` subject words, `u:` link hosts, `f:` the
 * sender's domain, `x:` the sending software; body words have no prefix.
 */
export function tokenize(email: ParsedEmail): Set<string> {
  const out = new Set<string>();
  addWords(out, email.subject, 's:');
  const body = email.text.slice(0, MAX_TOKENISED_CHARS);
  addWords(out, body, '');
  const html = email.html?.slice(0, MAX_TOKENISED_CHARS) ?? '';
  for (const host of [...urlHosts(body), ...urlHosts(html)]) {
    const tail = domainTail(host);
    if (!isCorpusArtefact(tail)) out.add(`u:${tail}`);
  }
  if (email.senderDomain) {
    const tail = domainTail(email.senderDomain);
    if (!isCorpusArtefact(tail)) out.add(`f:${tail}`);
  }
  const mailer = header(email, 'x-mailer') ?? header(email, 'user-agent');
  if (mailer) addWords(out, mailer.replace(/[\d.]+/g, ' '), 'x:');
  return out;
}
