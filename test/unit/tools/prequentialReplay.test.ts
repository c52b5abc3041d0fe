// The prequential replay's own arithmetic: its mail-time periods, the fixed feedback share, and the figures of a
// period at the served threshold (pooled ROC AUC against the library's, FPR and recall counted by hand).
import { inFeedbackShare, mailPeriods, periodFigures } from '../../../tools/cli/prequentialReplay';
import { rocAuc } from '../../../shared/model/metrics';
import type { CorpusMessage } from '../../../training/corpus';

const message = (id: string, iso: string, spam = false): CorpusMessage => ({
  id,
  group: 'easy-ham-2',
  spam,
  raw: Buffer.from(''),
  receivedAt: new Date(iso),
});

describe('mailPeriods', () => {
  it('cuts consecutive periods from the first message’s UTC midnight, skipping empty ones', () => {
    const periods = mailPeriods(
      [
        message('a', '2002-09-11T12:46:49Z'),
        message('b', '2002-09-17T23:59:59Z'),
        message('c', '2002-09-18T00:00:00Z'),
        message('d', '2002-10-03T08:00:00Z'),
      ],
      7,
    );
    expect(periods.map((p) => [p.start.toISOString(), p.messages.map((m) => m.id)])).toEqual([
      ['2002-09-11T00:00:00.000Z', ['a', 'b']],
      ['2002-09-18T00:00:00.000Z', ['c']],
      ['2002-10-02T00:00:00.000Z', ['d']],
    ]);
  });
});

describe('inFeedbackShare', () => {
  it('takes every message at 1 and a stable, roughly proportional set below', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `easy_ham_2/${i}`);
    expect(ids.every((id) => inFeedbackShare(id, 1))).toBe(true);
    const chosen = ids.filter((id) => inFeedbackShare(id, 0.3));
    expect(chosen.length / ids.length).toBeGreaterThan(0.27);
    expect(chosen.length / ids.length).toBeLessThan(0.33);
    expect(ids.filter((id) => inFeedbackShare(id, 0.3))).toEqual(chosen);
    // A smaller share is a subset of a larger one: the 30 % run's feedback is part of the 100 % run's.
    expect(ids.filter((id) => inFeedbackShare(id, 0.1)).every((id) => chosen.includes(id))).toBe(true);
  });
});

describe('periodFigures', () => {
  it('counts false positives and recall from the served answers and pools the ranking', () => {
    const answers = [
      { p: 0.9, spam: true, flagged: true, version: 'a' },
      { p: 0.4, spam: true, flagged: false, version: 'a' },
      { p: 0.7, spam: false, flagged: true, version: 'b' },
      { p: 0.1, spam: false, flagged: false, version: 'b' },
      { p: 0.2, spam: false, flagged: false, version: 'b' },
    ];
    expect(periodFigures(answers)).toEqual({
      rows: 5,
      auc: Math.round(rocAuc([0.9, 0.4, 0.7, 0.1, 0.2], [1, 1, 0, 0, 0]) * 1e4) / 1e4,
      ham_fpr: 0.3333,
      spam_recall: 0.5,
    });
  });

  it('says null, not NaN, where a period holds one class', () => {
    expect(periodFigures([{ p: 0.2, spam: false, flagged: false, version: 'a' }])).toEqual({
      rows: 1,
      auc: null,
      ham_fpr: 0,
      spam_recall: null,
    });
  });
});
