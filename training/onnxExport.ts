// ONNX export of the logistic-regression spam model, and its Triton model repository config.
//
// onnxruntime-node does not ship onnx.proto, so the few ONNX messages the graph needs are declared here with
// protobufjs reflection. Field numbers and types are those of the public onnx/onnx.proto3 (IR version 8).
//
// Graph (opset 13):  features FP32 [n,50] ─Sub(mean)─Mul(scale)─Gemm(W [50,2], B [2])─Softmax(axis 1)─▶ probabilities FP32 [n,2]
// Column 0 of W and B is zero, so Softmax gives [1 / (1 + e^z), e^z / (1 + e^z)] = [p_ham, p_spam] with z the logit.
import protobuf from 'protobufjs';
import { FEATURE_COUNT } from '../shared/serving/features/featureList';
import type { LogisticModel } from './logisticRegression';
import { INPUT_NAME, OUTPUT_NAME } from '../shared/model/onnxModel';

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;

// The subset of onnx.proto3 this exporter writes.
const onnxRoot = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            name: { type: 'string', id: 8 },
            docString: { type: 'string', id: 12 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 }, docString: { type: 'string', id: 3 } },
        },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProto.Tensor', id: 1 } },
          nested: {
            Tensor: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'TensorShapeProto.Dimension', id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 }, denotation: { type: 'string', id: 3 } },
            },
          },
        },
      },
    },
  },
});

export const ModelProto = onnxRoot.lookupType('onnx.ModelProto');

function tensor(name: string, dims: number[], values: ArrayLike<number>) {
  return { name, dims, dataType: FLOAT, floatData: Array.from(values) };
}

function valueInfo(name: string, dims: (number | string)[], docString: string) {
  return {
    name,
    docString,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface ExportMetadata {
  readonly modelName: string;
  readonly version: string;
  readonly featureNames: readonly string[];
  readonly threshold: number;
}

/** The ONNX bytes of a fitted model. Deterministic: the same parameters give the same bytes. */
export function exportOnnx(model: LogisticModel, meta: ExportMetadata): Uint8Array {
  if (model.weights.length !== FEATURE_COUNT) throw new Error(`expected ${FEATURE_COUNT} weights, got ${model.weights.length}`);
  const w = new Float32Array(FEATURE_COUNT * 2);
  for (let j = 0; j < FEATURE_COUNT; j++) w[j * 2 + 1] = model.weights[j];
  const graph = {
    name: meta.modelName,
    docString: 'Logistic regression on standardised features; outputs [p_ham, p_spam].',
    node: [
      { name: 'center', opType: 'Sub', input: [INPUT_NAME, 'mean'], output: ['centered'] },
      { name: 'standardise', opType: 'Mul', input: ['centered', 'scale'], output: ['standardised'] },
      {
        name: 'linear',
        opType: 'Gemm',
        input: ['standardised', 'W', 'B'],
        output: ['logits'],
        attribute: [
          { name: 'alpha', type: ATTRIBUTE_FLOAT, f: 1 },
          { name: 'beta', type: ATTRIBUTE_FLOAT, f: 1 },
          { name: 'transB', type: ATTRIBUTE_INT, i: 0 },
        ],
      },
      {
        name: 'softmax',
        opType: 'Softmax',
        input: ['logits'],
        output: [OUTPUT_NAME],
        attribute: [{ name: 'axis', type: ATTRIBUTE_INT, i: 1 }],
      },
    ],
    initializer: [
      tensor('mean', [FEATURE_COUNT], model.mean),
      tensor('scale', [FEATURE_COUNT], model.scale),
      tensor('W', [FEATURE_COUNT, 2], w),
      tensor('B', [2], [0, model.bias]),
    ],
    input: [valueInfo(INPUT_NAME, ['n', FEATURE_COUNT], `The ${FEATURE_COUNT} features of featureList.ts, in order`)],
    output: [valueInfo(OUTPUT_NAME, ['n', 2], '[p_ham, p_spam]')],
  };
  const message = ModelProto.fromObject({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'spam-detection-functions cli/train',
    producerVersion: '1',
    domain: 'spam-detection',
    modelVersion: 1,
    docString: `${meta.modelName} ${meta.version}: spam classifier; input ${INPUT_NAME} FP32 [n,${FEATURE_COUNT}], output ${OUTPUT_NAME} FP32 [n,2] = [p_ham, p_spam]`,
    graph,
    metadataProps: [
      { key: 'model_name', value: meta.modelName },
      { key: 'model_version', value: meta.version },
      { key: 'threshold', value: String(meta.threshold) },
      { key: 'feature_names', value: meta.featureNames.join(',') },
    ],
  });
  return ModelProto.encode(message).finish();
}

/**
 * Triton's config.pbtxt for the graph above: no implicit batching, so dims include the batch dimension.
 * Triton reports the repository folder ("1") as the model version; the project version travels as a model
 * parameter, which the gateway's KServe client reads from the model configuration endpoint.
 */
export function tritonConfig(modelName: string, modelVersion: string): string {
  return [
    `name: "${modelName}"`,
    'backend: "onnxruntime"',
    // 0: the model's own first dimension is the batch (dims below match the ONNX graph exactly).
    'max_batch_size: 0',
    'input [',
    '  {',
    `    name: "${INPUT_NAME}"`,
    '    data_type: TYPE_FP32',
    `    dims: [ -1, ${FEATURE_COUNT} ]`,
    '  }',
    ']',
    'output [',
    '  {',
    `    name: "${OUTPUT_NAME}"`,
    '    data_type: TYPE_FP32',
    '    dims: [ -1, 2 ]',
    '  }',
    ']',
    'instance_group [',
    '  {',
    '    kind: KIND_CPU',
    '    count: 1',
    '  }',
    ']',
    'parameters: {',
    '  key: "model_version"',
    `  value: { string_value: "${modelVersion}" }`,
    '}',
    '',
  ].join('\n');
}
