// The linear HTML-to-text converter that takes over from html-to-text past its budget: the words, line breaks and
// links the features read, and time proportional to the input on the shapes that made html-to-text quadratic.
import { htmlToPlainText } from '../../../../shared/serving/features/htmlText';

describe('htmlToPlainText', () => {
  it('keeps the words, breaks lines at block elements and joins inline ones', () => {
    expect(htmlToPlainText('<html><body><p>Hello <b>wor</b>ld</p><div>next</div>a<br>b<br><br>c</body></html>')).toBe(
      'Hello world\n\nnext\na\nb\n\nc',
    );
    expect(htmlToPlainText('<table><tr><td>one</td><td>two</td></tr><tr><td>three</td></tr></table>')).toBe('one two\nthree');
    expect(htmlToPlainText('  \n\t ')).toBe('');
  });

  it('writes links and images as html-to-text does', () => {
    expect(htmlToPlainText('<a href="http://x.example/a?b=1&amp;c=2">click here</a> now')).toBe(
      'click here [http://x.example/a?b=1&c=2] now',
    );
    expect(htmlToPlainText('<a href="mailto:q@example.org">write</a> <a href="#top">top</a> <a href=http://z.example></a>')).toBe(
      'write [q@example.org] top http://z.example',
    );
    expect(htmlToPlainText('a<img alt="Big sale" src=cid:x>b<img src="http://i.example/p.gif">')).toBe(
      'aBig sale [cid:x]b[http://i.example/p.gif]',
    );
    // An unquoted value runs to the next space, quotes included, as the HTML tokenizer reads it.
    expect(htmlToPlainText('<a href=3D"http://q.example">x</a>')).toBe('x [3D"http://q.example"]');
  });

  it('decodes entities, with or without the semicolon, and leaves unknown names alone', () => {
    expect(htmlToPlainText('a &amp; b &lt;c&gt; &#65;&#x42;&nbsp;&copy 2002 &bogus; &constructor; &#0; &#xD800;')).toBe(
      'a & b <c> AB\u00a0\u00a9 2002 &bogus; &constructor; \ufffd \ufffd',
    );
  });

  it('leaves out scripts, styles, comments and markup that is not text', () => {
    expect(htmlToPlainText('<style>p { color: red }</style><script>var a = "<p>x</p>";</script>shown<!-- hidden -->!')).toBe('shown!');
    expect(htmlToPlainText('<!DOCTYPE html><?xml version="1.0"?>a</>b < c')).toBe('ab < c');
    expect(htmlToPlainText('before<script>never closed')).toBe('before');
    expect(htmlToPlainText('before<!-- never closed')).toBe('before');
    expect(htmlToPlainText('before<a href="x"')).toBe('before');
  });

  it('wraps lines at 80 columns and keeps a longer word whole', () => {
    const text = htmlToPlainText(`<p>${'word '.repeat(40)}</p><p>${'x'.repeat(100)} end</p>`);
    const lines = text.split('\n');
    expect(lines.slice(0, 3).map((l) => l.length)).toEqual([79, 79, 39]);
    expect(lines.slice(4)).toEqual(['x'.repeat(100), 'end']);
  });

  // Each took html-to-text seconds at a megabyte (the word grows by one tag at a time); linear, they take tens of ms.
  it.each([
    ['img tags run together', '<img src=cid:x>', '[cid:x]'],
    ['span tags run together', '<span>x</span>', 'x'],
    ['bold tags run together', '<b>x</b>', 'x'],
    ['links run together', '<a href=http://x.example/>x</a>', 'x [http://x.example/]'],
    ['&nbsp;', '&nbsp;', '\u00a0'],
    ['unclosed tags', '<a', ''],
    ['divs nested 999 deep', `${'<div>'.repeat(999)}x${'</div>'.repeat(999)}`, 'x'],
  ])('a megabyte of %s takes well under a second', (_name, unit, each) => {
    const count = Math.floor((1 << 20) / unit.length);
    const started = performance.now();
    const text = htmlToPlainText(unit.repeat(count));
    expect(performance.now() - started).toBeLessThan(1000);
    const visible = (s: string) => s.replace(/[ \n]/g, '');
    expect(visible(text)).toBe(visible(each).repeat(count));
  });
});
