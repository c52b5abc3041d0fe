#!/usr/bin/env python3
"""Generate test/fixtures/scipy/drift_fixtures.json: what SciPy itself computes for the drift statistics.

The TypeScript ports in shared/drift/statistics/ (ks.ts, ksExact.ts, kolmogorov*.ts, multipleTesting.ts, psi.ts) are tested
against this file, so CI needs no Python. Run it again after changing the cases:

    python3 tools/scripts/scipy/ks_fixtures.py      # writes test/fixtures/scipy/drift_fixtures.json

Samples are stored either as explicit values (small ones) or as a generator spec the tests rebuild bit for bit
(large ones): mulberry32 uniforms (the same PRNG as shared/platform/random.ts), and only IEEE-exact arithmetic on
them (+, *, /, floor), so Python and JavaScript produce identical doubles.

Every ks_2samp case records which kolmogn branch SciPy took on the asymptotic path (or which exact method), and the
script fails unless every branch is covered.
"""
import json
import math
import os
import platform
import sys

import numpy as np
import scipy
from scipy import special, stats

OUT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'test', 'fixtures', 'scipy', 'drift_fixtures.json')
MAX_AUTO_N = 10000


def mulberry32(seed):
    """The 32-bit PRNG of shared/platform/random.ts, step for step (uint32 arithmetic)."""
    a = seed & 0xFFFFFFFF
    M = 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & M

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & M
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t = t ^ ((t + imul(t ^ (t >> 7), t | 61)) & M)
        return ((t ^ (t >> 14)) & M) / 4294967296

    return nxt


def build(spec):
    """Rebuild a sample from its spec (the tests implement the same function)."""
    if 'values' in spec:
        return np.array(spec['values'], dtype=np.float64)
    kind, size = spec['kind'], spec['size']
    scale, shift = spec.get('scale', 1.0), spec.get('shift', 0.0)
    if kind == 'grid':
        off = spec.get('offset', 0.5)
        return np.array([((i + off) / size) * scale + shift for i in range(size)], dtype=np.float64)
    rnd = mulberry32(spec['seed'])
    if kind == 'uniform':
        return np.array([rnd() * scale + shift for _ in range(size)], dtype=np.float64)
    if kind == 'discrete':
        levels = spec['levels']
        return np.array([math.floor(rnd() * levels) * scale + shift for _ in range(size)], dtype=np.float64)
    if kind == 'irwinHall':
        out = []
        for _ in range(size):
            s = rnd() + rnd()
            s = s + rnd()
            s = s + rnd()
            out.append((s - 2) * scale + shift)
        return np.array(out, dtype=np.float64)
    raise ValueError(kind)


def kolmogn_branch(n, x):
    """SciPy 1.17 _kolmogn(n, x, cdf=False) branch selection (scipy/stats/_ksstats.py), for coverage accounting."""
    if x >= 1.0:
        return 'x>=1'
    if x <= 0.0:
        return 'x<=0'
    t = n * x
    if t <= 1.0:
        return 't<=0.5' if t <= 0.5 else 'ruben-gambino-small-t'
    if t >= n - 1:
        return 'ruben-gambino-large-t'
    if x >= 0.5:
        return 'smirnov-x>=0.5'
    nxsquared = t * x
    if n <= 140:
        if nxsquared <= 0.754693:
            return 'durbin-n<=140'
        if nxsquared <= 4:
            return 'pomeranz-n<=140'
        return 'smirnov-n<=140'
    if nxsquared >= 370.0:
        return 'zero-nx2>=370'
    if nxsquared >= 2.2:
        return 'smirnov-n>140'
    if n <= 100000 and n * x ** 1.5 <= 1.4:
        return 'durbin-n>140'
    return 'pelz-good'


def ks_case(name, s1, s2, keep_values_upto=3000):
    a, b = build(s1), build(s2)
    res = stats.ks_2samp(a, b)
    n1, n2 = len(a), len(b)
    case = {'name': name, 'sample1': s1, 'sample2': s2, 'n1': n1, 'n2': n2,
            'statistic': float(res.statistic), 'pvalue': float(res.pvalue)}
    if max(n1, n2) <= MAX_AUTO_N:
        lcm = (n1 // math.gcd(n1, n2)) * n2
        h = int(np.round(float(res.statistic) * lcm))
        case['method'] = 'exact'
        case['branch'] = 'exact-h=0' if h == 0 else ('exact-square' if n1 == n2 else 'exact-band')
    else:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        N = int(np.round(m * n / (m + n)))
        case['method'] = 'asymp'
        case['kstwoN'] = N
        case['enExact'] = m * n / (m + n)
        # kstwo's support (0.5/N, 1) is checked before _kolmogn runs.
        d = float(res.statistic)
        case['branch'] = 'support-below' if d <= 0.5 / N else ('x>=1' if d >= 1 else kolmogn_branch(N, d))
    print(f"{name}: n1={n1} n2={n2} D={case['statistic']:.6g} p={case['pvalue']:.6g} {case['method']} {case['branch']}",
          file=sys.stderr)
    return case


def vals(xs):
    return {'values': [float(v) for v in xs]}


def grid(size, shift=0.0, scale=1.0, offset=0.5):
    return {'kind': 'grid', 'size': size, 'offset': offset, 'scale': scale, 'shift': shift}


def uni(seed, size, shift=0.0, scale=1.0):
    return {'kind': 'uniform', 'seed': seed, 'size': size, 'scale': scale, 'shift': shift}


def disc(seed, size, levels, shift=0.0, scale=1.0):
    return {'kind': 'discrete', 'seed': seed, 'size': size, 'levels': levels, 'scale': scale, 'shift': shift}


def irwin(seed, size, shift=0.0, scale=1.0):
    return {'kind': 'irwinHall', 'seed': seed, 'size': size, 'scale': scale, 'shift': shift}


def find_grid_shift(n1, n2, branch, shifts):
    """The shift of a grid sample 2 against grid sample 1 that lands ks_2samp on `branch` with the p-value
    farthest from the clipped ends (closest to 0.5), so that the case tests more than a clip to 0 or 1."""
    a = build(grid(n1))
    best = None
    for s in shifts:
        b = build(grid(n2, shift=s))
        r = stats.ks_2samp(a, b)
        d = float(r.statistic)
        m, n = max(n1, n2), min(n1, n2)
        N = int(np.round(m * n / (m + n)))
        if d > 0.5 / N and d < 1 and kolmogn_branch(N, d) == branch:
            score = abs(float(r.pvalue) - 0.5)
            if best is None or score < best[0]:
                best = (score, s)
    if best is None:
        raise RuntimeError(f'no shift reaches {branch} for n1={n1} n2={n2}')
    return best[1]


def ks_cases():
    cases = []
    # ---- exact path (max(n1, n2) <= 10000) ----
    cases.append(ks_case('identical samples (h = 0)', uni(1, 100), uni(1, 100)))
    cases.append(ks_case('one element each, equal', vals([0.5]), vals([0.5])))
    cases.append(ks_case('one element each, different', vals([1.0]), vals([2.0])))
    cases.append(ks_case('one element vs 100', vals([0.3]), uni(2, 100)))
    cases.append(ks_case('100 vs one element', uni(2, 100), vals([0.3])))
    cases.append(ks_case('n == m shifted', uni(3, 500), uni(4, 500, shift=0.1)))
    cases.append(ks_case('n == m same distribution', irwin(5, 1000), irwin(6, 1000)))
    cases.append(ks_case('n != m, gcd 50', uni(7, 100), uni(8, 250, shift=0.05)))
    cases.append(ks_case('n != m, coprime small', vals([0.1, 0.4, 0.45, 0.8, 0.9, 1.3, 2.0]),
                         vals([0.2, 0.25, 0.5, 0.55, 0.6, 0.7, 0.75, 1.0, 1.1, 1.2, 1.5, 1.6, 1.7])))
    cases.append(ks_case('ties, discrete 5 levels', disc(9, 3000, 5), disc(10, 5000, 5)))
    cases.append(ks_case('ties, discrete shifted', disc(11, 2000, 4), disc(12, 1500, 4, shift=0.5)))
    cases.append(ks_case('ties across samples', vals([1, 1, 2, 2, 2, 3, 5, 5]), vals([1, 2, 2, 3, 3, 3, 4, 5, 5, 5, 6])))
    cases.append(ks_case('discrete 10 levels, 4000 vs 3000', disc(13, 4000, 10), disc(14, 3000, 10)))
    cases.append(ks_case('disjoint, exact', uni(15, 50), uni(16, 80, shift=5)))
    cases.append(ks_case('exact boundary n = m = 10000', uni(17, 10000), uni(18, 10000, shift=0.01)))
    cases.append(ks_case('exact boundary 10000 vs 9999', irwin(19, 10000), irwin(20, 9999, shift=0.02)))
    cases.append(ks_case('exact 10000 vs 7 (strongly unequal)', uni(21, 10000), uni(22, 7, shift=0.2)))
    cases.append(ks_case('exact constant vs constant', vals([3.0] * 20), vals([3.0] * 30)))
    # ---- asymptotic path (max(n1, n2) > 10000) ----
    cases.append(ks_case('asymp boundary 10001 vs 10000', uni(23, 10001), uni(24, 10000, shift=0.01)))
    cases.append(ks_case('asymp n1 = n2 = 10001, en = 5000.5 rounds half to even', uni(25, 10001), uni(26, 10001, shift=0.02)))
    cases.append(ks_case('asymp identical large samples (D = 0)', uni(27, 20000), uni(27, 20000)))
    cases.append(ks_case('asymp disjoint (D = 1)', uni(28, 50), uni(29, 20000, shift=2)))
    cases.append(ks_case('asymp t <= 0.5: one value at the median', vals([0.5]), grid(20000, offset=0.25)))
    cases.append(ks_case('asymp Ruben-Gambino small t, n = 1', vals([0.3]), grid(20000)))
    s = find_grid_shift(300, 20000, 'ruben-gambino-small-t', [k * 1e-5 for k in range(1, 400)])
    cases.append(ks_case('asymp Ruben-Gambino small t, n > 140', grid(300), grid(20000, shift=s)))
    cases.append(ks_case('asymp Ruben-Gambino large t', vals([0.01, 0.02]), grid(20000)))
    cases.append(ks_case('asymp Ruben-Gambino large t, n = 5', vals([0.01, 0.02, 0.03, 0.04, 0.05]), grid(20000)))
    cases.append(ks_case('asymp 2*smirnov, x >= 0.5', uni(30, 10), uni(31, 20000, shift=0.6)))
    s = find_grid_shift(100, 20000, 'durbin-n<=140', [k * 1e-3 for k in range(1, 100)])
    cases.append(ks_case('asymp Durbin, n <= 140', grid(100), grid(20000, shift=s)))
    cases.append(ks_case('asymp Durbin, n <= 140, random', uni(32, 100), uni(33, 20000)))
    s = find_grid_shift(100, 20000, 'pomeranz-n<=140', [k * 1e-3 for k in range(50, 250)])
    cases.append(ks_case('asymp Pomeranz, n <= 140', grid(100), grid(20000, shift=s)))
    cases.append(ks_case('asymp Pomeranz, n <= 140, random', uni(34, 120), uni(35, 30000, shift=0.12)))
    cases.append(ks_case('asymp 2*smirnov, n <= 140', uni(36, 100), uni(37, 20000, shift=0.3)))
    cases.append(ks_case('asymp n x^2 >= 370 gives 0', uni(38, 20000), uni(39, 20000, shift=0.3)))
    cases.append(ks_case('asymp 2*smirnov, n > 140', uni(40, 20000), uni(41, 20000, shift=0.05)))
    cases.append(ks_case('asymp 2*smirnov, n > 140, reference 10000 vs 50000', irwin(42, 10000), irwin(43, 50000, shift=0.03)))
    s = find_grid_shift(20000, 20000, 'durbin-n>140', [k * 1e-4 for k in range(2, 30)])
    cases.append(ks_case('asymp Durbin, n > 140', grid(20000), grid(20000, shift=s)))
    s = find_grid_shift(150, 20000, 'durbin-n>140', [k * 1e-4 for k in range(1, 200)])
    cases.append(ks_case('asymp Durbin, n = 149', grid(150), grid(20000, shift=s)))
    s = find_grid_shift(20000, 20000, 'pelz-good', [k * 1e-4 for k in range(20, 200)])
    cases.append(ks_case('asymp Pelz-Good', grid(20000), grid(20000, shift=s)))
    cases.append(ks_case('asymp Pelz-Good, random same distribution', uni(44, 20000), uni(45, 30000)))
    cases.append(ks_case('asymp Pelz-Good, n > 100000', grid(250000), grid(250000, shift=0.0015)))
    cases.append(ks_case('asymp ties, discrete, reference 10000 vs 100000', disc(46, 10000, 7), disc(47, 100000, 7)))
    cases.append(ks_case('asymp smirnov with n > 1e6 (closed-form approximation)', grid(2000002), grid(2000002, shift=0.003)))
    cases.append(ks_case('asymp drift-like: reference 10000 vs 200000 shifted', irwin(48, 10000), irwin(49, 200000, shift=0.01, scale=1.1)))
    return cases


def kstwo_cases():
    """Direct kstwo.sf(x, n) values on every kolmogn branch, on a grid of n and x."""
    out = []
    ns = [1, 2, 3, 5, 10, 50, 100, 140, 141, 500, 1000, 5000, 10000, 50000, 100000, 100001, 300000, 2000000]
    xs = [1e-7, 1e-4, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3,
          0.45, 0.5, 0.6, 0.75, 0.9, 0.99, 1.0]
    for n in ns:
        for x in xs:
            # The Smirnov sum costs O(n) terms; for large n keep a few of those points, not the whole grid.
            if n > 20000 and kolmogn_branch(n, x) == 'smirnov-n>140' and (n, x) not in [(50000, 0.01), (300000, 0.003)]:
                continue
            out.append(kstwo_point(n, x))
    # Points placed on each side of the branch boundaries.
    for n, x in [(100, math.sqrt(0.754693 / 100) * 0.999), (100, math.sqrt(0.754693 / 100) * 1.001),
                 (100, 0.2 * 0.999), (100, 0.2 * 1.001), (1000, math.sqrt(2.2 / 1000) * 1.001),
                 (1000, math.sqrt(2.2 / 1000) * 0.999), (1000, (1.4 / 1000) ** (2 / 3) * 0.999),
                 (1000, (1.4 / 1000) ** (2 / 3) * 1.001), (10000, math.sqrt(370 / 10000) * 0.999),
                 (10000, math.sqrt(370 / 10000) * 1.001), (7, 1 / 7 * 1.0001), (7, 6 / 7 * 1.0001),
                 (200, 1 / 200 * 0.75), (5000, 1 / 5000 * 0.9)]:
        out.append(kstwo_point(n, x))
    return out


def kstwo_point(n, x):
    # cdf too: in the Durbin, Pomeranz and Pelz-Good regions the sf is 1 - cdf with a small cdf, so the methods
    # themselves are checked on the cdf with a relative tolerance.
    return {'n': n, 'x': x, 'sf': float(stats.kstwo.sf(x, n)), 'cdf': float(stats.kstwo.cdf(x, n)),
            'branch': kolmogn_branch(n, x)}


def smirnov_cases():
    """scipy.special.smirnov(n, x) (one-sided), including the branches kolmogn never reaches (upper sum)."""
    out = []
    for n in [1, 2, 5, 10, 20, 100, 1000, 10000, 100000, 1000001]:
        for x in [0.0, 1e-5, 0.001, 0.01, 0.02, 0.05, 0.1, 0.13, 0.25, 0.5, 0.7, 0.95, 0.999, 1.0]:
            if n == 100000 and x not in (0.0, 1e-5, 0.02, 0.999, 1.0):
                continue  # O(n) terms each: a few points are enough at this size
            out.append({'n': n, 'x': x, 'sf': float(special.smirnov(n, x))})
    for n, x in [(10, 0.1), (100, 0.02), (100, 0.03), (400, 0.0076), (1000, 0.0021), (50, 0.04), (3, 1 / 3)]:
        out.append({'n': n, 'x': x, 'sf': float(special.smirnov(n, x))})
    return out


def bh_cases():
    rng = np.random.default_rng(20261126)
    arrays = [
        [0.01, 0.04, 0.03, 0.005, 0.5],
        [0.0, 1.0, 0.5, 0.5, 0.5],
        [1.0, 1.0, 1.0],
        [0.2],
        [0.001, 0.001, 0.001, 0.9, 0.04, 0.04],
        list(rng.uniform(size=50)),
        list(np.concatenate([rng.uniform(0, 1e-6, size=10), rng.uniform(size=40)])),
        list(np.round(rng.uniform(size=50), 2)),
    ]
    return [{'p': [float(v) for v in a],
             'adjusted': [float(v) for v in stats.false_discovery_control(np.array(a), method='bh')]} for a in arrays]


def psi_reference(ref, cur, floor=1e-4):
    r = np.maximum(np.asarray(ref, dtype=np.float64), floor)
    c = np.maximum(np.asarray(cur, dtype=np.float64), floor)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_cases():
    cases = [
        ([0.1] * 10, [0.1] * 10),
        ([0.1] * 10, [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15]),
        ([0.7, 0.3, 0.0], [0.6, 0.35, 0.05]),
        ([1.0, 0.0], [0.0, 1.0]),
        ([0.25, 0.25, 0.25, 0.25], [0.4, 0.3, 0.2, 0.1]),
        ([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]),
    ]
    return [{'reference': r, 'current': c, 'psi': psi_reference(r, c)} for r, c in cases]


def main():
    ks = ks_cases()
    covered = {c['branch'] for c in ks}
    wanted = {'exact-h=0', 'exact-square', 'exact-band', 'support-below', 'x>=1', 'ruben-gambino-small-t',
              'ruben-gambino-large-t', 'smirnov-x>=0.5', 'durbin-n<=140', 'pomeranz-n<=140', 'smirnov-n<=140',
              'zero-nx2>=370', 'smirnov-n>140', 'durbin-n>140', 'pelz-good'}
    missing = wanted - covered
    if missing:
        raise SystemExit(f'ks_2samp cases miss branches: {sorted(missing)}')
    out = {
        'generatedBy': 'tools/scripts/scipy/ks_fixtures.py',
        'python': platform.python_version(),
        'numpy': np.__version__,
        'scipy': scipy.__version__,
        'scipySource': 'pip wheel already installed on this machine (pyenv site-packages), not Debian python3-scipy',
        'ks2samp': ks,
        'kstwoSf': kstwo_cases(),
        'smirnov': smirnov_cases(),
        'benjaminiHochberg': bh_cases(),
        'psi': psi_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f'wrote {os.path.relpath(OUT)}: {len(ks)} ks_2samp cases, branches {sorted(covered)}', file=sys.stderr)


if __name__ == '__main__':
    main()
