#!/usr/bin/env python3
"""SciPy side of `npm run bench:drift`: time scipy.stats.ks_2samp on the data the benchmark wrote.

    python3 tools/scripts/scipy/ks_bench.py DATA_FILE FEATURES N_REF N_CUR RUNS

DATA_FILE holds, per feature, N_REF float64 reference-sample values then N_CUR float32 current values
(little-endian). Prints one JSON object: the total wall and CPU time over all features for each run, and D and p per feature
(from the first run) so that the benchmark can check that both sides computed the same thing.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy import stats


def main():
    path, features, n_ref, n_cur, runs = sys.argv[1], *map(int, sys.argv[2:6])
    block = n_ref * 8 + n_cur * 4
    raw = np.memmap(path, dtype=np.uint8, mode='r')
    totals, cpu_totals, statistics, pvalues = [], [], [], []
    for run in range(runs):
        total = 0.0
        cpu = 0.0
        for j in range(features):
            base = j * block
            ref = np.frombuffer(raw[base:base + n_ref * 8], dtype='<f8')
            # float32 -> float64 outside the timed region: the TypeScript side also works on doubles.
            cur = np.frombuffer(raw[base + n_ref * 8:base + block], dtype='<f4').astype(np.float64)
            t, c = time.perf_counter(), time.process_time()
            res = stats.ks_2samp(ref, cur)
            total += time.perf_counter() - t
            cpu += time.process_time() - c
            if run == 0:
                statistics.append(float(res.statistic))
                pvalues.append(float(res.pvalue))
        totals.append(total)
        cpu_totals.append(cpu)
        print(f'scipy run {run + 1}/{runs}: {total:.2f} s wall, {cpu:.2f} s CPU', file=sys.stderr, flush=True)
    print(json.dumps({'scipy': scipy.__version__, 'numpy': np.__version__, 'totalsSeconds': totals, 'cpuSeconds': cpu_totals,
                      'statistics': statistics, 'pvalues': pvalues}))


if __name__ == '__main__':
    main()
