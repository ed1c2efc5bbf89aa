// Bad input is a clear error naming the argument, key or file — never a crash or a C++ backtrace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as rr from '../src/index';
import { addon } from '../src/native';
import { bertMiniDir, bf16CpuUnderIsaCap, copyModel, readSafetensorsHeader, writeRawSafetensors } from './helpers';

const noBacktrace = (err: Error) => !/Exception raised from|frame #\d/.test(err.message);

async function loadError(dir: string): Promise<Error> {
  try {
    (await rr.load(dir)).dispose();
  } catch (err) {
    assert.ok(noBacktrace(err as Error), `backtrace leaked: ${(err as Error).message}`);
    return err as Error;
  }
  assert.fail(`loading ${dir} should fail`);
}

test('a truncated safetensors file names the file and the tensor', async () => {
  const dir = copyModel(bertMiniDir);
  const file = path.join(dir, 'model.safetensors');
  const full = fs.readFileSync(file);
  fs.writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
  const err = await loadError(dir);
  assert.match(err.message, /model\.safetensors/);
  assert.match(err.message, /tensor '[^']+'.*past the end of the data.*truncated/);
});

test('a header length pointing past the end of the file is an error', async () => {
  const dir = copyModel(bertMiniDir);
  const file = path.join(dir, 'model.safetensors');
  const buf = fs.readFileSync(file);
  buf.writeBigUInt64LE(BigInt(buf.length + 10), 0);
  fs.writeFileSync(file, buf);
  assert.match((await loadError(dir)).message, /model\.safetensors: header length \d+ points past the end of the file/);
  fs.writeFileSync(file, Buffer.from([1, 2, 3]));
  assert.match((await loadError(dir)).message, /too short for a safetensors header/);
});

test('bad headers: invalid JSON, unknown dtype, wrong dtype, overlapping tensors', async () => {
  const dir = copyModel(bertMiniDir);
  const file = path.join(dir, 'model.safetensors');
  const original = readSafetensorsHeader(path.join(bertMiniDir, 'model.safetensors'));
  const data = fs.readFileSync(path.join(bertMiniDir, 'model.safetensors')).subarray(original.dataStart);

  const json = Buffer.from('{"a": [1, 2', 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json]));
  assert.match((await loadError(dir)).message, /header is not valid JSON/);

  const withDtype = (name: string, dtype: string) => ({ ...original.header, [name]: { ...original.header[name], dtype } });
  writeRawSafetensors(file, withDtype('classifier.weight', 'F8_E5M2'), data);
  assert.match((await loadError(dir)).message, /tensor 'classifier\.weight': unsupported dtype 'F8_E5M2'/);

  // classifier.bias is one float32 (4 bytes): as I32 the size still fits, but it is not a float tensor.
  writeRawSafetensors(file, withDtype('classifier.bias', 'I32'), data);
  assert.match((await loadError(dir)).message, /Mismatched tensors: classifier\.bias \(dtype I32/);

  const a = original.header['classifier.bias'];
  writeRawSafetensors(file, { ...original.header, 'classifier.bias': { ...a, data_offsets: [0, 4] } }, data);
  assert.match((await loadError(dir)).message, /overlap/);
});

test('missing and mismatched tensors are listed by name', async () => {
  const dir = copyModel(bertMiniDir);
  const file = path.join(dir, 'model.safetensors');
  const original = readSafetensorsHeader(file);
  const data = fs.readFileSync(file).subarray(original.dataStart);
  const header = { ...original.header };
  delete (header as Record<string, unknown>)['bert.encoder.layer.1.output.dense.weight'];
  delete (header as Record<string, unknown>)['bert.pooler.dense.bias'];
  writeRawSafetensors(file, header, data);
  const err = await loadError(dir);
  assert.match(err.message, /Missing tensors: .*bert\.encoder\.layer\.1\.output\.dense\.weight/);
  assert.match(err.message, /bert\.pooler\.dense\.bias/);

  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.copyFileSync(path.join(bertMiniDir, 'model.safetensors'), file);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, intermediate_size: 96 }));
  assert.match((await loadError(dir)).message, /Mismatched tensors: .*intermediate\.dense\.weight \(file \[128, 64\], model \[96, 64\]\)/);
});

test('config.json: malformed, missing keys, wrong types, unsupported model types', async () => {
  const dir = copyModel(bertMiniDir);
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, '{\n  "model_type": "bert",\n  "hidden_size": 64,,\n}');
  assert.match((await loadError(dir)).message, /config\.json:3:\d+: invalid JSON/);

  const { hidden_size: _dropped, ...withoutHidden } = config;
  fs.writeFileSync(file, JSON.stringify(withoutHidden));
  assert.match((await loadError(dir)).message, /config\.json: hidden_size: /);

  fs.writeFileSync(file, JSON.stringify({ ...config, num_attention_heads: 'four' }));
  assert.match((await loadError(dir)).message, /config\.json: num_attention_heads: .*number/);

  fs.writeFileSync(file, JSON.stringify({ ...config, model_type: 'gpt2' }));
  assert.match((await loadError(dir)).message, /model_type "gpt2" is not supported \(supported: .*bert/);

  // Both spellings of the dtype key are accepted, unknown keys ignored.
  fs.writeFileSync(file, JSON.stringify({ ...config, dtype: undefined, torch_dtype: 'float16', some_future_key: [1] }));
  (await rr.load(dir)).dispose();

  fs.rmSync(file);
  assert.match((await loadError(dir)).message, /no config\.json/);
  assert.match((await loadError(path.join(dir, 'nope'))).message, /no such model folder/);
});

test('API arguments are validated with errors that name them', async () => {
  const model = await rr.load(bertMiniDir, { maxLength: 32 });
  await assert.rejects(model.score('query' as never), { name: 'TypeError', message: /pairs must be an array/ });
  await assert.rejects(model.score([['q', 42]] as never), { name: 'TypeError', message: /pairs\[0\]\[1\] must be a string/ });
  await assert.rejects(model.score([{ query: 'q' }] as never), { name: 'TypeError', message: /pairs\[0\]\.document must be a string/ });
  await assert.rejects(model.score([['q', 'd'], ['', 'd']]), { name: 'RangeError', message: /pairs\[1\]\[0\] is an empty string/ });
  await assert.rejects(model.score([['q', 'd']], { batchSize: 0 }), { name: 'RangeError', message: /options\.batchSize/ });
  const long = 'word '.repeat(100);
  await assert.rejects(model.score([['q', 'd'], ['q', long]], { truncation: false }), { name: 'RangeError', message: /pairs\[1\] is \d+ tokens long, over maxLength 32/ });
  // On CUDA score() tokenizes in chunks of 8 batches: a pair in any chunk is named by its index in the caller's list.
  const many = Array.from({ length: 40 }, (_, i) => ['q', i === 37 ? long : `d${i}`] as [string, string]);
  await assert.rejects(model.score(many, { truncation: false, batchSize: 2 }), { name: 'RangeError', message: /pairs\[37\] is \d+ tokens long/ });
  await assert.rejects(model.score([['q', 'd']], { bf16: true }), { name: 'RangeError', message: /options\.bf16 needs a CUDA model/ });
  await assert.rejects(model.score([['q', 'd']], { bf16: 'yes' as never }), { name: 'TypeError', message: /options\.bf16 must be a boolean/ });
  assert.equal((await model.score([['q', long]])).length, 1, 'truncation is on by default');
  await assert.rejects(model.rank('', ['d']), { name: 'RangeError', message: /query is an empty string/ });
  await assert.rejects(model.rank('q', 'd' as never), { name: 'TypeError', message: /documents must be an array/ });
  await assert.rejects(model.rank('q', ['d'], { topK: -1 }), { name: 'RangeError', message: /options\.topK/ });
  await assert.rejects(model.score([['q', 'd']], { label: 3 }), { name: 'RangeError', message: /options\.label/ });
  await assert.rejects(model.scoreTokens({ inputIds: [[101, 9000]] }), { name: 'RangeError', message: /input\.inputIds\[0\]\[1\] is 9000, outside \[0, 8000\)/ });
  await assert.rejects(model.scoreTokens({ inputIds: [[1, 2], [3]] }), { name: 'RangeError', message: /input\.inputIds\[1\]/ });
  await assert.rejects(model.scoreTokens({ inputIds: new Int32Array(4) }), { name: 'TypeError', message: /input\.shape/ });
  await assert.rejects(model.scoreTokens({ inputIds: [new Array(200).fill(1)] }), { name: 'RangeError', message: /128 positions \(max_position_embeddings\)/ });
  assert.deepEqual(await model.score([]), []);
  await assert.rejects(rr.load(bertMiniDir, { device: 'tpu' as never }), { name: 'TypeError', message: /options\.device must be one of 'cpu', 'cuda'/ });
  await assert.rejects(rr.load(bertMiniDir, { maxLength: 4096 }), { name: 'RangeError', message: /options\.maxLength must be between 1 and 128/ });

  model.dispose();
  model.dispose();  // twice is harmless
  await assert.rejects(model.score([['q', 'd']]), /disposed/);
  await assert.rejects(model.rank('q', ['d']), /disposed/);
  await assert.rejects(model.scoreTokens({ inputIds: [[1]] }), /disposed/);
  await assert.rejects(model.save('/tmp/x'), /disposed/);
});

test("a model loaded with dtype 'bf16' scores, saves BF16 tensors, and refuses to train with a message saying why", { skip: bf16CpuUnderIsaCap }, async () => {
  await assert.rejects(rr.load(bertMiniDir, { dtype: 'fp16' as never }), { name: 'TypeError', message: /options\.dtype must be one of 'fp32', 'bf16', 'int8', got/ });
  const model = await rr.load(bertMiniDir, { maxLength: 32, dtype: 'bf16' });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rrnative-bf16-'));
  try {
    assert.equal(model.dtype, 'bf16');
    const pairs: [string, string][] = [['a query', 'a document'], ['another query', 'text']];
    const scores = await model.score(pairs);
    await model.save(out);
    const header = readSafetensorsHeader(path.join(out, 'model.safetensors'));
    assert.ok(Object.values(header.header as Record<string, { dtype: string }>).every((t) => t.dtype === 'BF16'), 'every saved tensor is BF16');
    const again = await rr.load(out, { maxLength: 32, dtype: 'bf16' });
    assert.deepEqual(await again.score(pairs), scores, 'a saved bf16 model loads back to the same scores');
    again.dispose();
    const batch = { inputIds: new Int32Array([2, 5, 3]), attentionMask: new Int32Array([1, 1, 1]), tokenTypeIds: null, batch: 1, length: 3 };
    const loss = { kind: 'bce' as const, groupSize: 1, labels: Float32Array.from([1]), teacherScores: null, scale: 1, bf16: false };
    await assert.rejects(model.native.trainStep(batch, loss), /bf16 weights for inference \(dtype 'bf16'\); load it with dtype 'fp32' to train it/);
    assert.throws(() => model.native.setDtype('fp16' as never), { name: 'TypeError', message: /setDtype: dtype must be 'fp32', 'bf16' or 'int8'/ });
  } finally {
    model.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('the native layer rejects malformed calls instead of crashing', async () => {
  const native = addon();
  await assert.rejects(async () => native.createModel({ modelType: 'gpt2' } as never, { device: 'cpu', seed: 1 }), /unsupported modelType/);
  const model = await rr.load(bertMiniDir);
  const handle = model.native;
  await assert.rejects(async () => handle.forward({ inputIds: new Int32Array(3), attentionMask: new Int32Array(4), tokenTypeIds: null, batch: 2, length: 2 }), /inputIds has 3 values/);
  await assert.rejects(async () => handle.forward({ inputIds: [1, 2] as never, attentionMask: new Int32Array(2), tokenTypeIds: null, batch: 1, length: 2 }), /must be an Int32Array/);
  // Out-of-range ids that skip TypeScript's checks become a torch error, without its C++ backtrace.
  const err = await handle.forward({ inputIds: Int32Array.from([1, 99999]), attentionMask: Int32Array.from([1, 1]), tokenTypeIds: null, batch: 1, length: 2 }).catch((e: Error) => e);
  assert.ok(err instanceof Error, 'expected an error');
  assert.ok(noBacktrace(err), err.message);
  assert.match(err.message, /index out of range|out of range/i);
  await assert.rejects(handle.loadWeights('/nonexistent/model.safetensors'), /cannot open file/);
  model.dispose();
  assert.throws(() => model.native, /disposed/);
});

test('top-level score() needs a model from options or RRNATIVE_MODEL', async () => {
  const saved = process.env.RRNATIVE_MODEL;
  delete process.env.RRNATIVE_MODEL;
  try {
    await assert.rejects(rr.score([['q', 'd']]), { name: 'TypeError', message: /options\.model.*RRNATIVE_MODEL/ });
    const viaOption = await rr.score([['q', 'd']], { model: bertMiniDir });
    process.env.RRNATIVE_MODEL = bertMiniDir;
    const viaEnv = await rr.score([['q', 'd']]);
    assert.deepEqual(viaEnv, viaOption);
    await assert.rejects(rr.score([['q', 'd']], { model: '/nonexistent' }), /no such model folder/);
  } finally {
    if (saved === undefined) delete process.env.RRNATIVE_MODEL;
    else process.env.RRNATIVE_MODEL = saved;
    await rr.clearCache();
  }
});
