// The local V2 model server (the KServe stand-in) over real HTTP, with the committed ONNX model in
// onnxruntime-node: the Open Inference Protocol endpoints and JSON shapes, `id` round-trip, `outputs` selection
// and `{ "error" }` answers (kserve/open-inference-protocol specification/protocol/inference_rest.md).
import { loadModelBackend, ModelServer, startModelServer } from '../../../../tools/devhost/modelServer';
import { FEATURE_COUNT } from '../../../../shared/serving/features/featureList';
import { committedModelDir, COMMITTED_MODEL_VERSION, MODEL_NAME } from '../../../../shared/model/modelArtifacts';
import { OnnxModel } from '../../../../shared/model/onnxModel';
import { loadModelDirectory } from '../../../../shared/model/modelArtifacts';
import { postJson } from '../../../helpers/gatewayStack';

let server: ModelServer;
let reference: OnnxModel;
let backend: Awaited<ReturnType<typeof loadModelBackend>>;

const row = (seed: number) => Array.from({ length: FEATURE_COUNT }, (_, i) => ((i * 7 + seed * 13) % 10) / 10);

beforeAll(async () => {
  backend = await loadModelBackend(committedModelDir());
  server = await startModelServer(backend, { port: 0 });
  reference = (await loadModelDirectory(committedModelDir())).onnx;
});

afterAll(async () => {
  await server.close();
  await backend.close();
  await reference.close();
});

const infer = (body: unknown, path = `/v2/models/${MODEL_NAME}/infer`) => postJson(`${server.url}${path}`, body);

describe('health and metadata', () => {
  it('answers live, ready, server metadata and model metadata with the protocol shapes', async () => {
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    const ready = await fetch(`${server.url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const meta = (await (await fetch(`${server.url}/v2`)).json()) as { name: string; version: string; extensions: string[] };
    expect(typeof meta.name).toBe('string');
    expect(Array.isArray(meta.extensions)).toBe(true);
    const model = await (await fetch(`${server.url}/v2/models/${MODEL_NAME}`)).json();
    expect(model).toEqual({
      name: MODEL_NAME,
      versions: [COMMITTED_MODEL_VERSION],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURE_COUNT] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
    });
    const versioned = await fetch(`${server.url}/v2/models/${MODEL_NAME}/versions/${COMMITTED_MODEL_VERSION}/ready`);
    expect(versioned.status).toBe(200);
    expect(await versioned.json()).toEqual({ name: MODEL_NAME, ready: true });
  });
});

describe('infer', () => {
  it('returns the model outputs with model name, version and the request id', async () => {
    const data = [...row(1), ...row(2)];
    const res = await infer({ id: 'req-42', inputs: [{ name: 'features', shape: [2, FEATURE_COUNT], datatype: 'FP32', data }] });
    expect(res.status).toBe(200);
    expect(res.body.model_name).toBe(MODEL_NAME);
    expect(res.body.model_version).toBe(COMMITTED_MODEL_VERSION);
    expect(res.body.id).toBe('req-42');
    expect(res.body.outputs).toHaveLength(1);
    const out = res.body.outputs[0];
    expect(out).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, 2] });
    const expected = Array.from(await reference.predict(Float32Array.from(data)));
    expect(out.data).toEqual(expected);
    expect(out.data[0] + out.data[1]).toBeCloseTo(1, 5);
  });

  it('leaves out id when the request has none, accepts nested data and a versioned path', async () => {
    const res = await infer(
      { inputs: [{ name: 'features', shape: [2, FEATURE_COUNT], datatype: 'FP32', data: [row(3), row(4)] }] },
      `/v2/models/${MODEL_NAME}/versions/${COMMITTED_MODEL_VERSION}/infer`,
    );
    expect(res.status).toBe(200);
    expect('id' in res.body).toBe(false);
    expect(res.body.outputs[0].data).toEqual(Array.from(await reference.predict(Float32Array.from([...row(3), ...row(4)]))));
  });

  it('returns only the requested outputs and refuses an unknown one', async () => {
    const input = { name: 'features', shape: [1, FEATURE_COUNT], datatype: 'FP32', data: row(5) };
    const selected = await infer({ inputs: [input], outputs: [{ name: 'probabilities' }] });
    expect(selected.body.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities']);
    const unknown = await infer({ inputs: [input], outputs: [{ name: 'label' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ error: "unexpected output name 'label'" });
  });

  it.each([
    [
      'a wrong shape',
      { inputs: [{ name: 'features', shape: [1, 49], datatype: 'FP32', data: row(1).slice(0, 49) }] },
      /shape \[1,49\] does not match the model's \[-1, 50\]/,
    ],
    [
      'data that does not fill the shape',
      { inputs: [{ name: 'features', shape: [2, 50], datatype: 'FP32', data: row(1) }] },
      /needs 100 elements, got 50/,
    ],
    [
      'a wrong datatype',
      { inputs: [{ name: 'features', shape: [1, 50], datatype: 'INT64', data: row(1) }] },
      /datatype "INT64" does not match the model's FP32/,
    ],
    ['a wrong input name', { inputs: [{ name: 'x', shape: [1, 50], datatype: 'FP32', data: row(1) }] }, /unexpected input name "x"/],
    [
      'non-numeric data',
      { inputs: [{ name: 'features', shape: [1, 50], datatype: 'FP32', data: [...row(1).slice(1), 'a'] }] },
      /finite numbers/,
    ],
    ['no inputs', { inputs: [] }, /'inputs' must be a non-empty array/],
    ['a non-object body', [1, 2], /must be a JSON object/],
  ])('answers 400 { error } for %s', async (_what, body, message) => {
    const res = await infer(body);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(res.body.error).toMatch(message);
  });

  it('answers 400 { error } for a body that is not JSON', async () => {
    const res = await infer('{"inputs": [');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'request body is not valid JSON' });
  });

  it('answers 404 { error } for a wrong model name or version', async () => {
    const input = { inputs: [{ name: 'features', shape: [1, 50], datatype: 'FP32', data: row(1) }] };
    const model = await infer(input, '/v2/models/other-model/infer');
    expect(model.status).toBe(404);
    expect(model.body.error).toMatch(/model 'other-model' is not served here/);
    const version = await infer(input, `/v2/models/${MODEL_NAME}/versions/9.9.9/infer`);
    expect(version.status).toBe(404);
    expect(version.body.error).toMatch(/no version '9.9.9'/);
  });

  it('refuses the binary tensor extension with a clear error rather than misreading the body', async () => {
    const res = await fetch(`${server.url}/v2/models/${MODEL_NAME}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '10' },
      body: '{"inputs":[]}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/binary tensor data extension is not supported/);
  });
});
