// sentence-transformers folders read as sentence-transformers reads them: the public fixtures (cls and mean
// pooling, Normalize, prompts), a plain encoder folder (mean pooling fallback), combined and named pooling modes,
// and mistakes named by file and key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readSentenceTransformerFolder } from '../src/retrieve/st-folder';
import { bertMiniDir, fixturesDir, tempDir } from './helpers';

test('the public sentence-transformers fixtures', () => {
  const cls = readSentenceTransformerFolder(path.join(fixturesDir, 'st-bert-cls-pub'));
  assert.deepEqual({ ...cls, rootDir: path.basename(cls.rootDir), encoderDir: path.basename(cls.encoderDir) }, {
    rootDir: 'st-bert-cls-pub', encoderDir: 'st-bert-cls-pub', pooling: ['cls'], includePrompt: true, embeddingDimension: 40, normalize: true, maxSeqLength: 32,
    doLowerCase: false, prompts: { query: 'query: ', document: '' }, defaultPromptName: undefined, similarity: 'cosine', fromModulesJson: true,
  });
  const mean = readSentenceTransformerFolder(path.join(fixturesDir, 'st-xlmr-mean-pub'));
  assert.deepEqual([mean.pooling, mean.normalize, mean.maxSeqLength, mean.embeddingDimension], [['mean'], true, 32, 32]);
});

test('a plain encoder folder: mean pooling, no normalization (sentence-transformers\' fallback)', () => {
  const plain = readSentenceTransformerFolder(bertMiniDir);
  assert.deepEqual([plain.pooling, plain.normalize, plain.fromModulesJson, plain.similarity], [['mean'], false, false, 'cosine']);
});

function folder(files: Record<string, unknown>): string {
  const dir = tempDir('rrnative-st-');
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const modules = [
  { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
  { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
];

test('combined modes in sentence-transformers\' concatenation order; a named pooling_mode; prompts and similarity', () => {
  const combined = readSentenceTransformerFolder(folder({
    'modules.json': modules,
    '1_Pooling/config.json': { pooling_mode_mean_tokens: true, pooling_mode_cls_token: true, pooling_mode_max_tokens: true, include_prompt: false },
    'config_sentence_transformers.json': { prompts: { query: 'q: ' }, default_prompt_name: 'query', similarity_fn_name: 'dot_product' },
  }));
  assert.deepEqual([combined.pooling, combined.includePrompt, combined.normalize, combined.defaultPromptName, combined.similarity],
    [['cls', 'max', 'mean'], false, false, 'query', 'dot']);
  const named = readSentenceTransformerFolder(folder({ 'modules.json': modules, '1_Pooling/config.json': { pooling_mode: 'mean_sqrt_len_tokens' } }));
  assert.deepEqual(named.pooling, ['mean_sqrt_len']);
  // sentence-transformers 6: its module names, a list of modes concatenated in the list's order, embedding_dimension.
  const v6 = readSentenceTransformerFolder(folder({
    'modules.json': [
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.base.modules.transformer.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.sentence_transformer.modules.pooling.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.base.modules.normalize.Normalize' },
    ],
    '1_Pooling/config.json': { embedding_dimension: 16, pooling_mode: ['mean', 'cls', 'mean_sqrt_len_tokens'] },
  }));
  assert.deepEqual([v6.pooling, v6.embeddingDimension, v6.normalize, v6.prompts], [['mean', 'cls', 'mean_sqrt_len'], 16, true, { query: '', document: '' }]);
});

test('mistakes are named by file and key', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ 'modules.json': [] }, /modules\.json: expected a non-empty array/],
    [{ 'modules.json': [modules[1]] }, /modules\.json: \[0\]\.type is sentence_transformers\.models\.Pooling; the first module must be a Transformer \(sentence_transformers\.models\.Transformer or /],
    [{ 'modules.json': [modules[0]] }, /modules\.json: no Pooling module \(sentence_transformers\.models\.Pooling or .*\) after the Transformer/],
    [{ 'modules.json': [...modules, { path: '2_Dense', type: 'sentence_transformers.models.Dense' }], '1_Pooling/config.json': { pooling_mode_mean_tokens: true } },
      /modules\.json: \[2\]\.type sentence_transformers\.models\.Dense is not supported/],
    [{ 'modules.json': modules }, /1_Pooling[/\\]config\.json: missing/],
    [{ 'modules.json': modules, '1_Pooling/config.json': {} }, /config\.json: no pooling mode is on/],
    [{ 'modules.json': modules, '1_Pooling/config.json': { pooling_mode_mean_tokens: 'yes' } }, /config\.json: pooling_mode_mean_tokens must be true or false, got "yes"/],
    [{ 'modules.json': modules, '1_Pooling/config.json': { pooling_mode: 'median' } }, /config\.json: pooling_mode "median" is not one of/],
    [{ 'sentence_bert_config.json': { max_seq_length: -3 } }, /sentence_bert_config\.json: max_seq_length must be a positive integer, got -3/],
    [{ 'config_sentence_transformers.json': { prompts: { q: 1 } } }, /config_sentence_transformers\.json: prompts must map names to strings/],
    [{ 'config_sentence_transformers.json': { prompts: {}, default_prompt_name: 'passage' } }, /default_prompt_name "passage" is not one of the prompts \(query, document\)/],
    [{ 'modules.json': modules, '1_Pooling/config.json': { pooling_mode: ['mean', 'mean'] } }, /config\.json: pooling_mode \["mean","mean"\] names a mode twice/],
    [{ 'modules.json': modules, '1_Pooling/config.json': { pooling_mode: [] } }, /config\.json: pooling_mode is an empty list/],
    [{ 'config_sentence_transformers.json': { similarity_fn_name: 'jaccard' } }, /similarity_fn_name "jaccard" is not one of/],
    [{ 'modules.json': '{not json' }, /modules\.json/],
  ];
  for (const [files, message] of cases) assert.throws(() => readSentenceTransformerFolder(folder(files)), message, JSON.stringify(files));
  assert.throws(() => readSentenceTransformerFolder(tempDir()), /not a model folder \(no modules\.json or config\.json\)/);
});
