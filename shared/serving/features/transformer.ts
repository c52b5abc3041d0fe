// The feature transformer: one parsed email + the model's token table + the
// sender's Feast features → the 50 float32 features of featureList.ts, in order. Training and serving both call
// `computeFeatures` (or its two halves), so there is no second implementation to drift apart.
//
//   const email = await parseEmail(input);                  // once per message; email.senderDomain → Feast lookup
//   const x = computeFeatures(email, model.tokens, sender);  // Float32Array(50)
//
// The halves: `prepareEmail` takes from the email everything that needs neither the model nor the sender (where it
// was parsed, a worker thread for the gateway: parsePool.ts), `preparedFeatures` adds the token table's and the
// sender's features.
import { FEATURE_COUNT, FEATURE_NAMES, FeatureName, SenderFeatures, UNKNOWN_SENDER, senderFeatureValues } from './featureList';
import { EmailInput, ParsedEmail, header, parseEmail } from './email';
import { parseMailDate } from './mailDate';
import { TokenTable, summariseTokens } from './tokenStats';
import { domainTail, tokenize } from './tokenizer';

export { parseEmail };
export type { EmailInput, ParsedEmail };

/** Character-level statistics look at this much text: enough to characterise a message, bounded for a 2 MB body. */
export const MAX_SCANNED_CHARS = 200_000;

const moneyPattern =
  /\$\s?\d|\b(?:free|cash|credit|income|save|savings|price|prices|million|millions|money|dollars?|earn|profit|profits|investment|mortgage|loan|loans|discount|bonus|rich|wealth|guaranteed)\b/gi;
const urgencyPattern =
  /\b(?:act now|limited time|urgent|order now|call now|don'?t delete|expires?|immediately|today only|last chance|hurry|apply now|click here|click below|as seen on|risk[- ]free|once in a lifetime|while supplies last)\b/gi;
const unsubscribePattern = /\bunsubscribe\b|\bopt[- ]?out\b|\bremoved?\b[^.\n]{0,60}\b(?:list|subject|mailing|database)\b/i;
const urlPattern = /\b(?:https?:\/\/|www\.)[^\s<>"')\]]+/gi;
const ipHostPattern = /^(?:\d{1,3}\.){3}\d{1,3}$|^\d{8,10}$/;
const uncommonCharsetAllowed = new Set([
  '',
  'us-ascii',
  'ascii',
  'utf-8',
  'utf8',
  'iso-8859-1',
  'iso-8859-15',
  'latin1',
  'windows-1252',
  'cp1252',
]);

const log1pCount = (text: string, pattern: RegExp) => Math.log1p(countMatches(text, pattern));

function countMatches(text: string, pattern: RegExp): number {
  let n = 0;
  for (const _ of text.matchAll(pattern)) n++;
  return n;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

interface CharStats {
  letters: number;
  upper: number;
  digits: number;
  nonSpace: number;
  nonAscii: number;
  chars: number;
}

function charStats(text: string): CharStats {
  const s: CharStats = { letters: 0, upper: 0, digits: 0, nonSpace: 0, nonAscii: 0, chars: 0 };
  for (const ch of text) {
    s.chars++;
    const code = ch.codePointAt(0)!;
    if (code > 127) s.nonAscii++;
    if (/\s/.test(ch)) continue;
    s.nonSpace++;
    if (code >= 48 && code <= 57) s.digits++;
    else if (ch.toLowerCase() !== ch.toUpperCase()) {
      s.letters++;
      if (ch === ch.toUpperCase()) s.upper++;
    }
  }
  return s;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(/^https?:/i.test(url) ? url : `http://${url}`).hostname.toLowerCase().replace(/^www\./, '');
  } catch {
    return undefined;
  }
}

/**
 * The `<a href>` links of an HTML body with their visible text (at most 500 characters before `</a>`): the matches
 * of `/<a\b[^>]*?href\s*=\s*["']?([^"'\s>]+)[^>]*>([\s\S]{0,500}?)<\/a>/gi`, found by a scan that reads each tag
 * once. That regex retries from every `<a` to the tag's end and took seconds on a 200 kB body of `<a`s; every `<a`
 * before a tag's `>` shares that `>` and the text after it, so when one of them fails, they all do.
 */
function htmlLinks(html: string): { href: string; text: string }[] {
  const links: { href: string; text: string }[] = [];
  const openTag = /<a/gi;
  for (let m = openTag.exec(html); m; m = openTag.exec(html)) {
    const start = m.index;
    if (/\w/.test(html.charAt(start + 2))) continue; // `<abbr`, not `<a`
    const tagEnd = html.indexOf('>', start + 2);
    if (tagEnd < 0) break; // no later `<a` is closed either
    const href = /href\s*=\s*["']?([^"'\s>]+)/i.exec(html.slice(start + 2, tagEnd));
    const close = href && /<\/a>/i.exec(html.slice(tagEnd + 1, tagEnd + 1 + 504));
    if (!href || !close || close.index > 500) {
      openTag.lastIndex = tagEnd + 1;
      continue;
    }
    links.push({
      href: href[1],
      text: html
        .slice(tagEnd + 1, tagEnd + 1 + close.index)
        .replace(/<[^>]*>/g, '')
        .trim(),
    });
    openTag.lastIndex = tagEnd + 1 + close.index + close[0].length;
  }
  return links;
}

/**
 * Characters inside tags: the total length of the matches of `/<[^>]*>/g`, counted by a scan. The regex retries from
 * every `<` of a body with no `>` after it and is quadratic in them (20 s on 200 kB of `<a`).
 */
function tagCharCount(html: string): number {
  let count = 0;
  for (let open = html.indexOf('<'); open >= 0;) {
    const close = html.indexOf('>', open + 1);
    if (close < 0) break;
    count += close - open + 1;
    open = html.indexOf('<', close + 1);
  }
  return count;
}

function relatedDomains(a: string, b: string): boolean {
  return domainTail(a) === domainTail(b);
}

type Values = Record<FeatureName, number>;

function contentFeatures(email: ParsedEmail, v: Partial<Values>): void {
  const text = email.text.slice(0, MAX_SCANNED_CHARS);
  const stats = charStats(text);
  v.body_chars_log = Math.log1p(email.text.length);
  v.body_lines_log = Math.log1p(email.text ? countMatches(email.text, /\n/g) + 1 : 0);
  v.uppercase_ratio = ratio(stats.upper, stats.letters);
  v.digit_ratio = ratio(stats.digits, stats.nonSpace);
  v.non_ascii_ratio = ratio(stats.nonAscii, stats.chars);
  const words = text.match(/\p{L}{3,}/gu) ?? [];
  v.shouting_word_ratio = ratio(words.filter((w) => w === w.toUpperCase() && w !== w.toLowerCase()).length, words.length);
  v.exclamation_count_log = log1pCount(text, /!/g);
  v.money_phrase_count_log = log1pCount(text, moneyPattern);
  v.urgency_phrase_count_log = log1pCount(text, urgencyPattern);
  v.unsubscribe_phrase = unsubscribePattern.test(text) ? 1 : 0;

  const html = email.html?.slice(0, MAX_SCANNED_CHARS) ?? '';
  const links = htmlLinks(html);
  const urls = [...(text.match(urlPattern) ?? []), ...links.map((l) => l.href).filter((h) => /^(?:https?:|www\.)/i.test(h))];
  const hosts = urls.map(hostOf).filter((h): h is string => !!h);
  v.url_count_log = Math.log1p(urls.length);
  v.url_distinct_domain_count_log = Math.log1p(new Set(hosts).size);
  v.url_ip_host = hosts.some((h) => ipHostPattern.test(h)) ? 1 : 0;

  v.html_present = email.hasHtmlPart ? 1 : 0;
  v.html_only = email.hasHtmlPart && !email.hasTextPart ? 1 : 0;
  v.html_tag_ratio = ratio(tagCharCount(html), html.length);
  v.html_image_count_log = log1pCount(html, /<img\b/gi);
  v.html_font_tag_count_log = Math.log1p(
    countMatches(html, /<font\b/gi) + countMatches(html, /style\s*=\s*["'][^"']*(?:color|font-size)/gi),
  );
  v.html_form_or_script = /<(?:form|script|iframe)\b/i.test(html) ? 1 : 0;
  const mismatched = links.filter((l) => {
    if (!/^(?:https?:\/\/|www\.)\S+$/i.test(l.text)) return false;
    const shown = hostOf(l.text);
    const target = hostOf(l.href);
    return !!shown && !!target && !relatedDomains(shown, target);
  }).length;
  v.html_link_text_mismatch = ratio(mismatched, links.length);
}

function mimeFeatures(email: ParsedEmail, v: Partial<Values>): void {
  v.mime_part_count = email.parts.length;
  v.attachment_count = email.attachmentCount;
  v.transfer_encoded = email.parts.some(
    (p) => p.contentType.startsWith('text/') && (p.encoding === 'base64' || p.encoding === 'quoted-printable'),
  )
    ? 1
    : 0;
  v.charset_uncommon = email.parts.some((p) => !uncommonCharsetAllowed.has(p.charset.replace(/^"|"$/g, ''))) ? 1 : 0;
}

function headerFeatures(email: ParsedEmail, v: Partial<Values>): void {
  const subject = email.subject;
  const s = charStats(subject);
  v.subject_chars_log = Math.log1p(subject.length);
  v.subject_uppercase_ratio = ratio(s.upper, s.letters);
  v.subject_punctuation = countMatches(subject, /[!$%]/g);
  // `(?:\[\d+\]\s*)?` rather than `(?:\[\d+\])?\s*`: two adjacent `\s*` backtrack quadratically on a subject of spaces.
  v.subject_reply_prefix = /^\s*(?:re|fwd?|aw)\s*(?:\[\d+\]\s*)?:/i.test(subject) ? 1 : 0;
  const has = (name: string) => email.headers.has(name);
  v.has_reply_headers = has('in-reply-to') || has('references') ? 1 : 0;
  v.mailing_list_headers = ['list-id', 'list-unsubscribe', 'list-post', 'mailing-list', 'x-mailing-list'].some(has) ? 1 : 0;
  v.precedence_bulk = /^(?:bulk|junk)\b/i.test(header(email, 'precedence') ?? '') ? 1 : 0;
  v.has_user_agent = has('x-mailer') || has('user-agent') ? 1 : 0;
  v.from_display_name = email.from?.name.trim() ? 1 : 0;
  v.reply_to_domain_mismatch = email.replyTo && email.from && !relatedDomains(email.replyTo.domain, email.from.domain) ? 1 : 0;
  const messageId = /^<[^<>@\s]+@([^<>@\s]+)>$/.exec(header(email, 'message-id') ?? '');
  v.message_id_suspicious = !messageId || !email.from || !relatedDomains(messageId[1].toLowerCase(), email.from.domain) ? 1 : 0;
  const date = header(email, 'date');
  v.date_missing_or_invalid = date && Number.isFinite(parseMailDate(date)) ? 0 : 1;
  v.recipient_count_log = Math.log1p(email.recipientCount);
  const priority = `${header(email, 'x-priority') ?? ''} ${header(email, 'x-msmail-priority') ?? ''} ${header(email, 'importance') ?? ''}`;
  v.x_priority_high = /^\s*[12]\b|\bhigh\b|\burgent\b/i.test(priority) ? 1 : 0;
  const local = email.from?.address.split('@')[0] ?? '';
  v.from_local_digits = ratio(countMatches(local, /\d/g), local.length);
}

/** The 50 features of a parsed email, in FEATURE_NAMES order, as float32. */
export function computeFeatures(email: ParsedEmail, tokens: TokenTable, sender: SenderFeatures = UNKNOWN_SENDER): Float32Array {
  return featuresFromTokens(email, tokenize(email), tokens, sender);
}

/** As `computeFeatures`, with the message's tokens already extracted (training computes them once per message). */
export function featuresFromTokens(
  email: ParsedEmail,
  messageTokens: ReadonlySet<string>,
  tokens: TokenTable,
  sender: SenderFeatures = UNKNOWN_SENDER,
): Float32Array {
  return preparedFeatures(prepareEmail(email, messageTokens), tokens, sender);
}

/** What the features take from one email whatever the model and the sender. Plain data: it crosses threads. */
export interface PreparedEmail {
  /** The From domain, lower case: the Feast entity. */
  readonly senderDomain?: string;
  /** The features of the email itself (content, MIME structure, headers). */
  readonly values: Readonly<Partial<Record<FeatureName, number>>>;
  /** The message's distinct tokens, for the model's token table. */
  readonly tokens: ReadonlySet<string>;
}

export function prepareEmail(email: ParsedEmail, messageTokens: ReadonlySet<string> = tokenize(email)): PreparedEmail {
  const values: Partial<Values> = {};
  contentFeatures(email, values);
  mimeFeatures(email, values);
  headerFeatures(email, values);
  return { senderDomain: email.senderDomain, values, tokens: messageTokens };
}

/** The 50 features of a prepared email with the model's token table and the sender's features, as float32. */
export function preparedFeatures(email: PreparedEmail, tokens: TokenTable, sender: SenderFeatures = UNKNOWN_SENDER): Float32Array {
  const v = { ...email.values, ...summariseTokens(email.tokens, tokens), ...senderFeatureValues(sender) } as Values;
  const out = new Float32Array(FEATURE_COUNT);
  FEATURE_NAMES.forEach((name, i) => {
    const x = v[name];
    // Every feature is finite by construction; this guards the contract (finite float32) against a future edit.
    out[i] = Number.isFinite(x) ? x : 0;
  });
  return out;
}

/** Parse and compute in one call (the transform API, tests). */
export async function transformEmail(
  input: EmailInput,
  tokens: TokenTable,
  sender: SenderFeatures = UNKNOWN_SENDER,
): Promise<Float32Array> {
  return computeFeatures(await parseEmail(input), tokens, sender);
}

/** The features as `{ name: value }`, in order (the transform API's response). */
export function namedFeatures(values: ArrayLike<number>): Record<FeatureName, number> {
  return Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, values[i]])) as Record<FeatureName, number>;
}
