// Saving and loading Hugging Face model folders, and creating new models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as rr from '../src/index';
import { bertMiniDir, loadFixture, readSafetensorsHeader, tempDir } from './helpers';

const fixture = loadFixture(bertMiniDir);

function tensorBytes(file: string): Map<string, Buffer> {
  const info = readSafetensorsHeader(file);
  const buf = fs.readFileSync(file);
  const out = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(info.header)) {
    out.set(name, buf.subarray(info.dataStart + entry.data_offsets[0], info.dataStart + entry.data_offsets[1]));
  }
  return out;
}

test('save → load round trip is bit-exact and writes what transformers expects', async () => {
  const dir = tempDir();
  const model = await rr.load(bertMiniDir, { maxLength: 64 });
  const before = await model.score(fixture.eval.pairs);
  await model.save(dir);
  model.dispose();

  // Same tensor names, dtypes and shapes as the folder transformers wrote; identical bytes.
  const original = readSafetensorsHeader(path.join(bertMiniDir, 'model.safetensors'));
  const saved = readSafetensorsHeader(path.join(dir, 'model.safetensors'));
  assert.deepEqual(saved.metadata, { format: 'pt' });
  assert.deepEqual(Object.keys(saved.header).sort(), Object.keys(original.header).sort());
  for (const [name, entry] of Object.entries(original.header)) {
    assert.equal(saved.header[name].dtype, entry.dtype, name);
    assert.deepEqual(saved.header[name].shape, entry.shape, name);
  }
  const originalBytes = tensorBytes(path.join(bertMiniDir, 'model.safetensors'));
  for (const [name, bytes] of tensorBytes(path.join(dir, 'model.safetensors'))) {
    assert.ok(bytes.equals(originalBytes.get(name)!), `${name} bytes differ`);
  }

  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
  assert.equal(config.model_type, 'bert');
  assert.deepEqual(config.id2label, { 0: 'LABEL_0' });
  assert.deepEqual(config.label2id, { LABEL_0: 0 });
  assert.equal(config.dtype, 'float32');
  assert.equal(config.hidden_size, 64);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary files left');

  const reloaded = await rr.load(dir, { maxLength: 64 });
  const after = await reloaded.score(fixture.eval.pairs);
  assert.deepEqual(after, before, 'scores after reload must be identical');
  const dir2 = tempDir();
  await reloaded.save(dir2);
  reloaded.dispose();
  assert.ok(fs.readFileSync(path.join(dir2, 'model.safetensors')).equals(fs.readFileSync(path.join(dir, 'model.safetensors'))));
});

test('create() initialises as Hugging Face does, seeded', async () => {
  const config = JSON.parse(fs.readFileSync(path.join(bertMiniDir, 'config.json'), 'utf8'));
  const a = await rr.create({ config, tokenizer: bertMiniDir, seed: 7 });
  const b = await rr.create({ config, tokenizer: bertMiniDir, seed: 7 });
  const c = await rr.create({ config, tokenizer: bertMiniDir, seed: 8 });
  const dirs = [tempDir(), tempDir(), tempDir()];
  await Promise.all([a.save(dirs[0]), b.save(dirs[1]), c.save(dirs[2])]);
  [a, b, c].forEach((m) => m.dispose());
  const file = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));
  assert.ok(file(dirs[0]).equals(file(dirs[1])), 'same seed, same weights');
  assert.ok(!file(dirs[0]).equals(file(dirs[2])), 'another seed, other weights');

  const tensors = tensorBytes(path.join(dirs[0], 'model.safetensors'));
  const floats = (name: string) => {
    const buf = tensors.get(name)!;
    return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  };
  assert.ok(floats('bert.encoder.layer.0.attention.output.LayerNorm.weight').every((v) => v === 1));
  assert.ok(floats('bert.encoder.layer.0.attention.output.LayerNorm.bias').every((v) => v === 0));
  assert.ok(floats('bert.encoder.layer.1.intermediate.dense.bias').every((v) => v === 0));
  assert.ok(floats('classifier.bias').every((v) => v === 0));
  const word = floats('bert.embeddings.word_embeddings.weight');
  assert.ok(word.subarray(0, 64).every((v) => v === 0), 'the padding row is zero');
  const rest = word.subarray(64);
  const mean = rest.reduce((s, v) => s + v, 0) / rest.length;
  const std = Math.sqrt(rest.reduce((s, v) => s + (v - mean) ** 2, 0) / rest.length);
  assert.ok(Math.abs(mean) < 1e-3, `mean ${mean}`);
  assert.ok(Math.abs(std - config.initializer_range) < 1e-3, `std ${std} vs initializer_range ${config.initializer_range}`);
});

test('a base-model checkpoint without a classifier loads with a fresh head, reported', async () => {
  // Strip the classification head from a copy of the fixture, as a pretrained BertModel folder would be.
  const dir = tempDir();
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) fs.copyFileSync(path.join(bertMiniDir, f), path.join(dir, f));
  const model = await rr.load(bertMiniDir);
  await model.save(dir);
  model.dispose();
  const file = path.join(dir, 'model.safetensors');
  const info = readSafetensorsHeader(file);
  const buf = fs.readFileSync(file);
  const header: Record<string, unknown> = { __metadata__: info.metadata };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, entry] of Object.entries(info.header)) {
    if (name.startsWith('classifier.')) continue;
    const bytes = buf.subarray(info.dataStart + entry.data_offsets[0], info.dataStart + entry.data_offsets[1]);
    header[name.replace(/^bert\./, '')] = { ...entry, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...parts]));

  const base = await rr.load(dir);
  assert.deepEqual([...base.initializedParameters].sort(), ['classifier.bias', 'classifier.weight']);
  const scores = await base.score([['a query', 'a document']]);
  assert.equal(scores.length, 1);
  assert.ok(Number.isFinite(scores[0]));
  base.dispose();
});
