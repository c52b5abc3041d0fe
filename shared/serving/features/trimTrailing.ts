/**
 * `text` without its longest suffix of characters `drop` accepts. A loop rather than a `/[...]+$/` replace: such a
 * regex retries from every character of a long run that is not at the end (a host of 80,000 dots followed by a
 * letter took 15 s), and the text comes from whoever sent the mail.
 */
export function trimTrailing(text: string, drop: (ch: string) => boolean): string {
  let end = text.length;
  while (end > 0 && drop(text[end - 1])) end--;
  return text.slice(0, end);
}
