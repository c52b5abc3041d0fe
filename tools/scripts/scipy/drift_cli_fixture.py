#!/usr/bin/env python3
"""Generate test/fixtures/drift-cli/: two reference/current dataset pairs as CSV, and what SciPy computes on them.

The drift CLI's file mode (`npm run drift -- --reference a.csv --current b.csv`) compares every row of both files,
so its KS statistic and p-value must equal scipy.stats.ks_2samp(reference_column, current_column) on the same
files. test/integration/tools/drift.test.ts runs the CLI on these files (and on NDJSON/Parquet copies it makes) and compares with
scipy.json, so CI needs no Python. Run again after changing the cases:

    python3 tools/scripts/scipy/drift_cli_fixture.py

Pairs: `exact` (5,000 reference rows, 1,500 current: SciPy's exact path) and `asymp` (12,000 vs 3,000: the
asymptotic kstwo path). Columns: an unchanged continuous feature, a shifted one, a discrete one with heavy ties, a
binary one, one whose current side has NaN and infinities (SciPy is given the finite values: the CLI counts and
reports non-finite values instead of comparing them), and `probability` (the prediction distribution).
SciPy reads the numbers back from the CSV text, so both sides see the same doubles.
"""
import csv
import json
import math
import os

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'test', 'fixtures', 'drift-cli')
COLUMNS = ['steady', 'shifted', 'discrete', 'binary', 'with_non_finite', 'probability']


def dataset(rng, n, current):
    shift = 0.25 if current else 0.0
    cols = {
        'steady': rng.normal(0.0, 1.0, n),
        'shifted': rng.normal(shift, 1.0, n),
        'discrete': rng.poisson(2.0 + (0.6 if current else 0.0), n).astype(float),
        'binary': (rng.random(n) < (0.35 if current else 0.3)).astype(float),
        'with_non_finite': rng.gamma(2.0, 1.0, n),
        'probability': rng.beta(2.0, 5.0 - (1.0 if current else 0.0), n),
    }
    if current:
        x = cols['with_non_finite']
        x[::97] = np.nan
        x[5::211] = np.inf
        x[7::401] = -np.inf
    return cols


def write_csv(path, cols, n):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i in range(n):
            w.writerow([format_value(cols[c][i]) for c in COLUMNS])


def format_value(v):
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    return repr(round(float(v), 6))


def read_csv(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {c: np.array([float(r[c]) for r in rows]) for c in COLUMNS}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261126)
    cases = {}
    for name, n_ref, n_cur in [('exact', 5000, 1500), ('asymp', 12000, 3000)]:
        ref_path = os.path.join(OUT, f'{name}-reference.csv')
        cur_path = os.path.join(OUT, f'{name}-current.csv')
        write_csv(ref_path, dataset(rng, n_ref, False), n_ref)
        write_csv(cur_path, dataset(rng, n_cur, True), n_cur)
        ref, cur = read_csv(ref_path), read_csv(cur_path)
        columns = {}
        for c in COLUMNS:
            a, b = ref[c][np.isfinite(ref[c])], cur[c][np.isfinite(cur[c])]
            r = stats.ks_2samp(a, b)
            columns[c] = {
                'statistic': float(r.statistic),
                'pvalue': float(r.pvalue),
                'n_reference': int(a.size),
                'n_current': int(b.size),
                'nan': int(np.isnan(cur[c]).sum()),
                'pos_inf': int(np.isposinf(cur[c]).sum()),
                'neg_inf': int(np.isneginf(cur[c]).sum()),
            }
        cases[name] = {'reference': os.path.basename(ref_path), 'current': os.path.basename(cur_path), 'columns': columns}
    meta = {'scipy': scipy.__version__, 'numpy': np.__version__, 'call': 'scipy.stats.ks_2samp(reference_finite, current_finite)'}
    with open(os.path.join(OUT, 'scipy.json'), 'w') as f:
        json.dump({'generated_by': 'tools/scripts/scipy/drift_cli_fixture.py', **meta, 'cases': cases}, f, indent=2)
        f.write('\n')
    print(json.dumps({k: {c: (v['statistic'], v['pvalue']) for c, v in cs['columns'].items()} for k, cs in cases.items()}, indent=1))


if __name__ == '__main__':
    main()
