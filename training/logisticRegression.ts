// L2-regularised logistic regression fitted by Newton's method (IRLS), on standardised features.
//
// At 50 features and a few thousand rows Newton converges in about ten exact steps, with no learning rate, no
// random initialisation and no mini-batch order: the same rows give the same weights, bit for bit.
//
// The fitted model is stored in float32, as the ONNX graph holds it: `standardise` (x - mean) * scale, then
// z = w·s + b, p_spam = sigmoid(z). `predictSpam` evaluates exactly that from the float32 parameters, rounding the
// element-wise steps to float32 as onnxruntime does, so the export check can compare the two to 1e-6.

export interface LogisticModel {
  /** Per-feature mean of the fit rows (float32). */
  readonly mean: Float32Array;
  /** Per-feature 1 / standard deviation of the fit rows (float32; 1 for a constant feature). */
  readonly scale: Float32Array;
  /** Weights on the standardised features (float32). */
  readonly weights: Float32Array;
  readonly bias: number;
  readonly l2: number;
  readonly iterations: number;
}

export interface FitOptions {
  /** L2 penalty on the weights (not the bias), in units of the summed log-loss. */
  readonly l2: number;
  readonly maxIterations?: number;
  readonly tolerance?: number;
}

/** Solve A x = b for a symmetric positive definite A (Cholesky); A is n x n row-major. */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (s <= 0) throw new Error('logistic regression: Hessian is not positive definite (raise the L2 penalty)');
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

function standardisation(rows: readonly Float32Array[], d: number): { mean: Float32Array; scale: Float32Array } {
  const mean = new Float32Array(d);
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (const r of rows) s += r[j];
    const m = s / rows.length;
    let v = 0;
    for (const r of rows) v += (r[j] - m) ** 2;
    const sd = Math.sqrt(v / rows.length);
    mean[j] = m;
    scale[j] = sd > 1e-9 ? 1 / sd : 1;
  }
  return { mean, scale };
}

/** The standardised row as the ONNX graph computes it: float32 Sub, then float32 Mul. */
export function standardise(row: ArrayLike<number>, model: Pick<LogisticModel, 'mean' | 'scale'>, out: Float64Array): Float64Array {
  for (let j = 0; j < out.length; j++) out[j] = Math.fround(Math.fround(row[j] - model.mean[j]) * model.scale[j]);
  return out;
}

export function fitLogisticRegression(rows: readonly Float32Array[], labels: ArrayLike<number>, options: FitOptions): LogisticModel {
  if (rows.length === 0 || rows.length !== labels.length)
    throw new Error('logistic regression: rows and labels must be non-empty and of equal length');
  const d = rows[0].length;
  const p = d + 1; // weights, then bias
  const { mean, scale } = standardisation(rows, d);
  const xs = rows.map((r) => {
    const s = standardise(r, { mean, scale }, new Float64Array(p));
    s[d] = 1;
    return s;
  });
  const beta = new Float64Array(p);
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const grad = new Float64Array(p);
    const hess = new Float64Array(p * p);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      let z = 0;
      for (let j = 0; j < p; j++) z += beta[j] * x[j];
      const mu = 1 / (1 + Math.exp(-z));
      const w = Math.max(mu * (1 - mu), 1e-12);
      const r = mu - labels[i];
      for (let j = 0; j < p; j++) {
        grad[j] += r * x[j];
        const wx = w * x[j];
        for (let k = 0; k <= j; k++) hess[j * p + k] += wx * x[k];
      }
    }
    for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) hess[k * p + j] = hess[j * p + k];
    for (let j = 0; j < d; j++) {
      grad[j] += options.l2 * beta[j];
      hess[j * p + j] += options.l2;
    }
    hess[d * p + d] += 1e-9; // keeps the bias' row positive definite on separable data
    const step = solveSpd(hess, grad, p);
    let change = 0;
    for (let j = 0; j < p; j++) {
      beta[j] -= step[j];
      change = Math.max(change, Math.abs(step[j]));
    }
    if (change < tolerance) {
      iterations++;
      break;
    }
  }
  return { mean, scale, weights: Float32Array.from(beta.subarray(0, d)), bias: Math.fround(beta[d]), l2: options.l2, iterations };
}

/** p_spam of one row, from the float32 parameters (the training code's reference for the ONNX check). */
export function predictSpam(model: LogisticModel, row: ArrayLike<number>): number {
  const s = standardise(row, model, new Float64Array(model.weights.length));
  let z = model.bias;
  for (let j = 0; j < s.length; j++) z += model.weights[j] * s[j];
  return 1 / (1 + Math.exp(-z));
}

export function predictSpamBatch(model: LogisticModel, rows: readonly ArrayLike<number>[]): Float64Array {
  return Float64Array.from(rows, (r) => predictSpam(model, r));
}
