// The one onnxruntime-node wrapper of the project: the gateway's embedded fallback, the local KServe V2 server,
// the training CLI's export check and the tests all run the model through this class.
//
// The spam model's contract (the one Triton serves behind KServe; docs/model.md): input `features` FP32 [n, 50], output `probabilities` FP32
// [n, 2] = [p_ham, p_spam]. `load` checks the graph's signature against it, so a wrong file fails at load time,
// not on the first request.
import * as ort from 'onnxruntime-node';
import { FEATURE_COUNT } from '../serving/features/featureList';
import { BadRequestError } from '../platform/errors';

export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'probabilities';
export const CLASS_LABELS = ['ham', 'spam'] as const;

/** The model file does not have the signature every part of the system relies on. */
export class ModelSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelSignatureError';
  }
}

/** A batch that does not fit the model's input (wrong length, non-finite values). A 400 where it reaches HTTP. */
export class ModelInputError extends BadRequestError {
  constructor(message: string) {
    super(message, 'invalid_features');
  }
}

export interface OnnxModelOptions {
  /** Threads for one inference; 1 suits a 50x2 model (thread hand-off costs more than the arithmetic). */
  readonly threads?: number;
}

export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Where the model came from, for messages. */
    readonly source: string,
  ) {}

  /** Load a model from a file path or its bytes, once; reuse the instance for every batch. */
  static async load(source: string | Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    const session =
      typeof source === 'string'
        ? await ort.InferenceSession.create(source, sessionOptions)
        : await ort.InferenceSession.create(source, sessionOptions);
    const model = new OnnxModel(session, typeof source === 'string' ? source : `<${source.byteLength} bytes>`);
    model.checkSignature();
    return model;
  }

  private checkSignature(): void {
    const { inputNames, outputNames } = this.session;
    if (!inputNames.includes(INPUT_NAME) || !outputNames.includes(OUTPUT_NAME)) {
      throw new ModelSignatureError(
        `${this.source}: expected input '${INPUT_NAME}' and output '${OUTPUT_NAME}', found inputs [${inputNames.join(', ')}] and outputs [${outputNames.join(', ')}]`,
      );
    }
    const input = this.session.inputMetadata.find((m) => m.name === INPUT_NAME);
    if (input?.isTensor) {
      const dims = input.shape;
      if (input.type !== 'float32' || dims.length !== 2 || (typeof dims[1] === 'number' && dims[1] !== FEATURE_COUNT)) {
        throw new ModelSignatureError(
          `${this.source}: input '${INPUT_NAME}' is ${input.type} [${dims.join(', ')}], expected float32 [n, ${FEATURE_COUNT}]`,
        );
      }
    }
  }

  /**
   * Run a batch. `features` holds n rows of 50 values, row-major (n = features.length / 50). Returns n rows of
   * [p_ham, p_spam], row-major.
   */
  async predict(features: Float32Array | readonly number[]): Promise<Float32Array> {
    if (features.length === 0 || features.length % FEATURE_COUNT !== 0) {
      throw new ModelInputError(`expected n x ${FEATURE_COUNT} feature values, got ${features.length}`);
    }
    const data = features instanceof Float32Array ? features : Float32Array.from(features);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]))
        throw new ModelInputError(`feature value ${i % FEATURE_COUNT} of row ${Math.floor(i / FEATURE_COUNT)} is not finite`);
    }
    const n = data.length / FEATURE_COUNT;
    const result = await this.session.run({ [INPUT_NAME]: new ort.Tensor('float32', data, [n, FEATURE_COUNT]) });
    const out = result[OUTPUT_NAME];
    if (out.type !== 'float32' || out.dims.length !== 2 || out.dims[0] !== n || out.dims[1] !== CLASS_LABELS.length) {
      throw new ModelSignatureError(
        `${this.source}: output '${OUTPUT_NAME}' is ${out.type} [${out.dims.join(', ')}], expected float32 [${n}, 2]`,
      );
    }
    return out.data as Float32Array;
  }

  /** The spam probability of each row (column 1 of `predict`). */
  async spamProbabilities(features: Float32Array | readonly number[]): Promise<Float32Array> {
    const p = await this.predict(features);
    const spam = new Float32Array(p.length / 2);
    for (let i = 0; i < spam.length; i++) spam[i] = p[2 * i + 1];
    return spam;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
