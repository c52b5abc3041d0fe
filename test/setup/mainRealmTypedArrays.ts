// Jest runs each test file in its own V8 context, so typed arrays made there are not `instanceof` the
// Float32Array of Node's main context, where onnxruntime-node's native binding creates its output tensors; its
// JS side (onnxruntime-common) then refuses them ("A float32 tensor's data must be type of function
// Float32Array()"). Outside Jest there is only one context and nothing of this applies. Loaded as a jest setup file
// for every test file, it makes the typed-array globals the main context's before onnxruntime loads.
import vm from 'node:vm';

const names = [
  'ArrayBuffer',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

for (const name of names) {
  (globalThis as Record<string, unknown>)[name] = vm.runInThisContext(name);
}
