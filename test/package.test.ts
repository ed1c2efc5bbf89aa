// `npm install rrnative` in someone else's project: the tarball `npm pack` makes from a copy of the tracked tree,
// installed offline into a new project, then used there as a Node service would (require, import, types, score,
// train, the CLI). The addon build of that install reuses the build cache, seeded with this checkout's own addon
// under the key the install computes (a hash of native/, CMakeLists.txt, the LibTorch found and the compiler):
// compiling it again would take ~15 minutes of CI. Without a LibTorch the install succeeds and says what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { addonFile, buildKey, findLibTorch, storeInCache } from '../src/install/addon';
import { bertMiniDir, column, escapeRegExp, loadFixture, repoRoot, tempDir } from './helpers';

const work = tempDir('rrnative-package-');
const cache = path.join(work, 'build-cache');
const npmEnv: NodeJS.ProcessEnv = { ...process.env, RRNATIVE_BUILD_CACHE: cache, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
delete npmEnv.LIBTORCH;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = npmEnv): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} (in ${cwd}) exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/**
 * The tracked and untracked-but-not-ignored files: what a fresh clone of this tree would hold (outside a git
 * checkout: every file but the build outputs .gitignore names).
 */
function copyTrackedTree(to: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' });
  const files = listed.status === 0 ? listed.stdout.split('\0').filter(Boolean) : walk(repoRoot);
  for (const rel of files) {
    const from = path.join(repoRoot, rel);
    if (!fs.existsSync(from)) continue;  // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(to, rel));
  }
}

function walk(root: string, dir = ''): string[] {
  const ignored = new Set(['.git', 'node_modules', 'build', 'dist', 'runs', 'tmp', '.carry', '.rrnative-cache']);
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return ignored.has(e.name) && dir === '' ? [] : walk(root, rel);
    return e.isFile() && !e.name.endsWith('.log') ? [rel] : [];
  });
}

let tarball = '';
const packed: { files: { path: string }[]; size: number; unpackedSize: number; entryCount: number }[] = [];

test('npm pack ships dist/ built fresh by prepack, the native sources, configs and the bundled data, nothing else', () => {
  const tree = path.join(work, 'tree');
  copyTrackedTree(tree);
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(tree, 'node_modules'));  // prepack's tsc
  fs.mkdirSync(path.join(tree, 'dist', 'src'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'dist', 'src', 'stale.js'), '// left by an old build: never shipped\n');
  const result = run('npm', ['pack', '--json', '--pack-destination', work], tree);
  packed.push(...JSON.parse(result.stdout.slice(result.stdout.indexOf('[')))) ;
  const files = packed[0].files.map((f) => f.path);
  tarball = path.join(work, (JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as { filename: string }[])[0].filename);
  console.log(`# tarball: ${path.basename(tarball)}, ${packed[0].entryCount} files, ${(packed[0].size / 1e6).toFixed(2)} MB ` +
    `(${(packed[0].unpackedSize / 1e6).toFixed(2)} MB unpacked)`);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CMakeLists.txt', 'scripts/install.js', 'native/runtime/bindings.cpp', 'configs/quickstart.yaml',
    'data/debdesc/train.jsonl.gz', 'dist/src/index.js', 'dist/src/index.mjs', 'dist/src/index.d.ts', 'dist/src/cli.js', 'dist/src/serve/server.js',
    'dist/src/install/addon.js']) {
    assert.ok(files.includes(f), `the tarball has ${f}`);
  }
  const unwanted = files.filter((f) => /^(test|src|scripts\/bench|build|node_modules|dist\/test|dist\/scripts)\//.test(f) || f.endsWith('.map')
    || f.includes('fixtures') || f === 'dist/src/stale.js');
  assert.deepEqual(unwanted, [], 'no tests, sources, benchmarks, fixtures, maps or stale output');
});

const consumer = path.join(work, 'service');

/**
 * A new project that depends on the tarball, with a lockfile: rrnative from the tarball, its dependencies at the
 * versions of this checkout's lockfile, so `npm ci --offline` installs from npm's cache with no registry.
 */
function writeProject(dir: string, name: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const spec = `file:${path.relative(dir, tarball)}`;
  const ours = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const packages: Record<string, unknown> = {
    '': { name, version: '1.0.0', dependencies: { rrnative: spec } },
    'node_modules/rrnative': {
      version: manifest.version, resolved: spec, license: manifest.license, hasInstallScript: true,
      integrity: `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
      dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines,
    },
  };
  for (const [key, entry] of Object.entries(ours.packages)) if (key !== '' && !entry.dev) packages[key] = entry;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, dependencies: { rrnative: spec } }));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name, version: '1.0.0', lockfileVersion: 3, requires: true, packages }));
}

test('installing the tarball in a new project, offline (npm ci from its lockfile): the addon comes from the build cache', () => {
  assert.ok(tarball, 'the pack test ran');
  const torch = findLibTorch();
  assert.ok(torch, 'the suite itself found a LibTorch');
  storeInCache(addonFile(repoRoot), buildKey(repoRoot, torch), npmEnv);
  writeProject(consumer, 'service');
  const started = Date.now();
  const result = run('npm', ['ci', '--offline', '--foreground-scripts'], consumer);
  console.log(`# npm install (offline, addon from the build cache): ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.match(result.stdout + result.stderr, /native addon for LibTorch at .* taken from the build cache/);
  assert.ok(fs.existsSync(path.join(consumer, 'node_modules', 'rrnative', 'build', 'Release', 'rrnative.node')));
});

const fixture = loadFixture(bertMiniDir);
const pairs = fixture.eval.pairs.slice(0, 4);
const expected = column(fixture.eval.logits_single).slice(0, 4);

function writeData(dir: string): string {
  const file = path.join(dir, 'pairs.jsonl');
  const rows = fixture.train.bce.batches.flatMap((b) => b.pairs);
  fs.writeFileSync(file, rows.map(([query, document, label]) => JSON.stringify({ query, document, label })).join('\n') + '\n');
  return file;
}

test('in that project: require, import, rrnative/serve, the types, score() on the fixture, rr.train, npx rrtrain --help', () => {
  assert.ok(fs.existsSync(path.join(consumer, 'node_modules', 'rrnative')), 'the install test ran');
  const model = JSON.stringify(bertMiniDir);
  fs.writeFileSync(path.join(consumer, 'score.cjs'), `const rr = require('rrnative');
const { createServer } = require('rrnative/serve');
if (typeof createServer !== 'function') throw new Error('rrnative/serve: no createServer');
rr.score(${JSON.stringify(pairs)}, { model: ${model}, maxLength: ${fixture.max_length} }).then(async (s) => { console.log(JSON.stringify(s)); await rr.clearCache(); });
`);
  const scored = JSON.parse(run('node', ['score.cjs'], consumer).stdout.trim()) as number[];
  scored.forEach((s, i) => assert.ok(Math.abs(s - expected[i]) < 1e-5, `pair ${i}: ${s} vs transformers' ${expected[i]}`));

  fs.writeFileSync(path.join(consumer, 'score.mjs'), `import * as rr from 'rrnative';
import rrDefault from 'rrnative';
if (rrDefault.score !== rr.score) throw new Error('default export');
const m = await rr.load(${model}, { maxLength: ${fixture.max_length} });
console.log(JSON.stringify(await m.score(${JSON.stringify(pairs)})));
m.dispose();
`);
  const imported = JSON.parse(run('node', ['score.mjs'], consumer).stdout.trim()) as number[];
  assert.deepEqual(imported, scored);

  // The types: a consumer's TypeScript compiles against the package's declarations (its exports map).
  fs.writeFileSync(path.join(consumer, 'check.ts'), `import * as rr from 'rrnative';
import { createServer } from 'rrnative/serve';
const scores: Promise<number[]> = rr.score([['q', 'd']], { model: 'm', dtype: 'int8' });
const trained: Promise<rr.TrainResult> = rr.train('configs/x.yaml', { onLog: (e: rr.LogEntry) => e.step, signal: new AbortController().signal });
// @ts-expect-error: a pair is two strings
rr.score([['q']]);
export { scores, trained, createServer };
`);
  run(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'node16',
    '--moduleResolution', 'node16', '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), 'check.ts'], consumer);

  const data = writeData(consumer);
  fs.writeFileSync(path.join(consumer, 'train.cjs'), `const rr = require('rrnative');
rr.train({
  model: { path: ${model}, max_length: 48 },
  data: { train: { path: ${JSON.stringify(data)} }, cache_dir: 'cache' },
  training: { output_dir: 'reranker', max_steps: 3, per_device_train_batch_size: 4, logging_steps: 1, save_strategy: 'no', device: 'cpu' },
}, { onLog: (e) => console.log('log', JSON.stringify(e)) }).then((r) => console.log('done', r.outputDir, r.globalStep));
`);
  const trained = run('node', ['train.cjs'], consumer).stdout;
  console.log(trained.split('\n').map((l) => `# ${l}`).join('\n'));
  assert.equal(trained.split('\n').filter((l) => l.startsWith('log {"stage":0,"step":')).length, 3);
  assert.match(trained, new RegExp(`done ${escapeRegExp(path.join(consumer, 'reranker'))} 3`));
  console.log(`# saved: ${fs.readdirSync(path.join(consumer, 'reranker')).sort().join(' ')}`);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md', 'metrics.jsonl']) {
    assert.ok(fs.existsSync(path.join(consumer, 'reranker', f)), `the trained folder has ${f}`);
  }

  const help = run('npx', ['--offline', 'rrtrain', '--help'], consumer).stdout;
  for (const command of ['setup', 'serve', 'score', 'eval']) assert.match(help, new RegExp(`rrtrain ${command}`));
});

test('without a LibTorch the install succeeds and says what to do; the first call throws it; rrtrain setup then builds', () => {
  assert.ok(tarball, 'the pack test ran');
  const project = path.join(work, 'no-torch');
  writeProject(project, 'no-torch');
  const missing = path.join(work, 'no-libtorch-here');
  const installed = run('npm', ['ci', '--offline', '--foreground-scripts'], project, { ...npmEnv, LIBTORCH: missing });
  assert.match(installed.stdout + installed.stderr, new RegExp(`the native addon is not built: LIBTORCH=${escapeRegExp(missing)}: no LibTorch there.*npx rrtrain setup`, 's'));
  assert.ok(!fs.existsSync(path.join(project, 'node_modules', 'rrnative', 'build', 'Release', 'rrnative.node')));

  const call = spawnSync('node', ['-e', `require('rrnative').score([['q', 'd']], { model: ${JSON.stringify(bertMiniDir)} })
    .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })`], { cwd: project, env: npmEnv, encoding: 'utf8' });
  assert.equal(call.status, 3, call.stderr);
  assert.match(call.stderr, /^rrnative: the native addon is not built: .*rrnative\.node is missing\. .*LIBTORCH=.*pip install torch.*libtorch-dev.*Then run `npx rrtrain setup`/);

  const setup = run('npx', ['--offline', 'rrtrain', 'setup', '--no-apt'], project);
  assert.match(setup.stderr, /taken from the build cache/);
  assert.match(setup.stdout, /the native addon is ready \(LibTorch \d/);
  const works = run('node', ['-e', `require('rrnative').score([['q', 'd']], { model: ${JSON.stringify(bertMiniDir)} }).then((s) => console.log(s.length))`], project);
  assert.equal(works.stdout.trim(), '1');
});
