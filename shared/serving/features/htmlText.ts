// The text of an HTML body in one linear pass, for the HTML that html-to-text is not given (email.ts parseEmail):
// html-to-text builds a word that runs across tags (`<img src=cid:x>` after `<img src=cid:x>`, `<b>x</b><b>x</b>`)
// by copying it whole at every tag, which took 10 s on 1 MiB. The features need the words and the links, not a
// rendering, so this writes what html-to-text would for the common cases (words, line breaks at block elements,
// lines wrapped at 80 columns, `text [href]` for a link, `alt [src]` for an image, a rule of dashes for `<hr>`,
// entities decoded, script and style left out) and no more (tables, lists and headings come out as plain text).
// Every input character is looked at a bounded number of times, and no regex can retry from many positions of a run.

/** html-to-text's default line width: the line counts of both converters stay comparable. */
const WRAP_COLUMNS = 80;
/** Attributes are looked for in the first characters of a tag only: a tag of a megabyte is not a link. */
const MAX_TAG_SCAN = 4096;

const breakAround: ReadonlyMap<string, number> = new Map([
  ...['div', 'article', 'aside', 'footer', 'form', 'header', 'main', 'nav', 'section', 'tr', 'li', 'dt', 'dd'].map(
    (t): [string, number] => [t, 1],
  ),
  ...['p', 'blockquote', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'ol', 'ul', 'dl', 'pre', 'table'].map((t): [string, number] => [t, 2]),
]);
/** Elements whose content is not text: skipped up to their end tag (the rest of the document when there is none). */
const rawTextEnds: ReadonlyMap<string, RegExp> = new Map(
  ['script', 'style', 'title', 'template'].map((t) => [t, new RegExp(`</${t}`, 'gi')]),
);

const namedEntities: ReadonlyMap<string, string> = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', '\u00a0'],
  ['copy', '\u00a9'],
  ['reg', '\u00ae'],
  ['trade', '\u2122'],
  ['hellip', '\u2026'],
  ['mdash', '\u2014'],
  ['ndash', '\u2013'],
  ['lsquo', '\u2018'],
  ['rsquo', '\u2019'],
  ['ldquo', '\u201c'],
  ['rdquo', '\u201d'],
  ['bull', '\u2022'],
  ['middot', '\u00b7'],
  ['euro', '\u20ac'],
  ['pound', '\u00a3'],
  ['yen', '\u00a5'],
  ['cent', '\u00a2'],
  ['deg', '\u00b0'],
  ['times', '\u00d7'],
  ['laquo', '\u00ab'],
  ['raquo', '\u00bb'],
  ['shy', '\u00ad'],
]);

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHexDigit = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** The end of the run of `accept` characters from `start`, at most `max` long. */
function runEnd(text: string, start: number, max: number, accept: (c: number) => boolean): number {
  let end = start;
  while (end < text.length && end - start < max && accept(text.charCodeAt(end))) end++;
  return end;
}

function codePoint(code: number): string {
  return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
}

/** `&name;`, `&#n;` and `&#xh;` decoded (the `;` may be missing, as browsers allow); an unknown name stays as it is. */
function decodeEntities(text: string): string {
  let out = '';
  let done = 0;
  for (let amp = text.indexOf('&'); amp >= 0; amp = text.indexOf('&', amp + 1)) {
    let end: number;
    let value: string | undefined;
    if (text.charCodeAt(amp + 1) === 0x23) {
      const hex = (text.charCodeAt(amp + 2) | 0x20) === 0x78;
      const start = amp + (hex ? 3 : 2);
      end = runEnd(text, start, hex ? 6 : 7, hex ? isHexDigit : isDigit);
      if (end > start) value = codePoint(parseInt(text.slice(start, end), hex ? 16 : 10));
    } else {
      end = isLetter(text.charCodeAt(amp + 1)) ? runEnd(text, amp + 1, 32, (c) => isLetter(c) || isDigit(c)) : amp + 1;
      value = namedEntities.get(text.slice(amp + 1, end));
    }
    if (value === undefined) continue;
    if (text.charCodeAt(end) === 0x3b) end++;
    out += text.slice(done, amp) + value;
    done = end;
    amp = end - 1;
  }
  return done ? out + text.slice(done) : text;
}

// html-to-text's whitespace (space, tab, CR, LF, form feed, zero-width space); a no-break space is part of a word.
function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x0c || code === 0x200b;
}

function hasWord(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return true;
  return false;
}

/** Words joined by single spaces, lines wrapped at WRAP_COLUMNS, at most one empty line in a row, nothing at either end. */
class TextWriter {
  // A string grown by `+=` (V8 keeps it as a rope until it is read), not an array of a million pieces to join.
  private out = '';
  private column = 0;
  private spaceDue = false;
  private breaksDue = 0;

  text(text: string): void {
    let start = -1;
    for (let i = 0; i < text.length; i++) {
      if (!isSpace(text.charCodeAt(i))) {
        if (start < 0) start = i;
        continue;
      }
      if (start >= 0) this.word(text.slice(start, i));
      start = -1;
      this.spaceDue = true;
    }
    if (start >= 0) this.word(start ? text.slice(start) : text);
  }

  space(): void {
    this.spaceDue = true;
  }

  /** A word of its own: after a space whatever came before. */
  separateWord(word: string): void {
    this.spaceDue = true;
    this.word(word);
  }

  lineBreaks(count: number): void {
    this.breaksDue = Math.min(2, Math.max(this.breaksDue, count));
  }

  lineBreak(): void {
    this.breaksDue = Math.min(2, this.breaksDue + 1);
  }

  private word(word: string): void {
    if (!this.out.length) {
      this.breaksDue = 0;
    } else if (this.breaksDue) {
      this.out += this.breaksDue === 2 ? '\n\n' : '\n';
      this.column = 0;
    } else if (this.spaceDue) {
      const wraps = this.column > 0 && this.column + 1 + word.length > WRAP_COLUMNS;
      this.out += wraps ? '\n' : ' ';
      this.column = wraps ? 0 : this.column + 1;
    }
    this.breaksDue = 0;
    this.spaceDue = false;
    this.out += word;
    this.column += word.length;
  }

  toString(): string {
    return this.out;
  }
}

const attributePatterns = new Map(
  ['href', 'src', 'alt'].map((name) => [name, new RegExp(`[\\s"'/]${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i')]),
);

/** An attribute of the tag html[start..end), looked for in its first MAX_TAG_SCAN characters. */
function attribute(html: string, start: number, end: number, name: 'href' | 'src' | 'alt'): string {
  const m = attributePatterns.get(name)!.exec(html.slice(start, Math.min(end, start + MAX_TAG_SCAN)));
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3]).trim() : '';
}

const tagStart = /<(\/?)([A-Za-z][^\s/>]*)/y;

/** The text of an HTML document: see the top of this file. Linear in the length of `html`. */
export function htmlToPlainText(html: string): string {
  const writer = new TextWriter();
  let href = '';
  let linkHasText = false;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    const textEnd = lt < 0 ? html.length : lt;
    if (textEnd > i) {
      const text = decodeEntities(html.slice(i, textEnd));
      if (href && !linkHasText) linkHasText = hasWord(text);
      writer.text(text);
    }
    if (lt < 0) break;
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    tagStart.lastIndex = lt;
    const m = tagStart.exec(html);
    if (!m) {
      if (html[lt + 1] === '!' || html[lt + 1] === '?' || html[lt + 1] === '/') {
        // A declaration, a processing instruction or a bogus end tag: markup, not text.
        const end = html.indexOf('>', lt);
        i = end < 0 ? html.length : end + 1;
      } else {
        writer.text('<');
        i = lt + 1;
      }
      continue;
    }
    const gt = html.indexOf('>', lt);
    // An unclosed tag at the end of the document is dropped, as html-to-text's parser drops it.
    if (gt < 0) break;
    i = gt + 1;
    const closing = m[1] === '/';
    const name = m[2].toLowerCase();
    const breaks = breakAround.get(name);
    if (breaks) writer.lineBreaks(breaks);
    if (name === 'hr' && !closing) {
      writer.separateWord('-'.repeat(WRAP_COLUMNS));
      writer.lineBreaks(2);
    } else if (name === 'br') writer.lineBreak();
    else if (name === 'td' || name === 'th') writer.space();
    else if (name === 'img' && !closing) {
      const alt = attribute(html, lt, gt, 'alt');
      const src = attribute(html, lt, gt, 'src');
      writer.text(src ? `${alt}${alt ? ' ' : ''}[${src}]` : alt);
    } else if (name === 'a') {
      if (href) writer.separateWord(linkHasText ? `[${href}]` : href);
      href = closing ? '' : attribute(html, lt, gt, 'href').replace(/^mailto:/i, '');
      if (href.startsWith('#')) href = '';
      linkHasText = false;
    } else if (rawTextEnds.has(name) && !closing) {
      const end = rawTextEnds.get(name)!;
      end.lastIndex = i;
      const found = end.exec(html);
      const close = found ? html.indexOf('>', found.index) : -1;
      i = close < 0 ? html.length : close + 1;
    }
  }
  if (href) writer.separateWord(linkHasText ? `[${href}]` : href);
  return writer.toString();
}
