// The debdesc data set: the builder's parsing/joining/splitting on a small apt-list sample, the builder
// script end to end (byte-for-byte reproducible output), and the committed data/debdesc files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  buildRows,
  DebdescRow,
  loadDebdesc,
  parseDeb822,
  parseDescription,
  parsePackages,
  parseTranslation,
  relevantIds,
  relevantIndices,
  sourceName,
  splitOfSource,
  splitRows,
  toJsonl,
} from '../src/data/debdesc';
import { main as buildMain, readAptList } from '../scripts/build-debdesc';

const repoRoot = path.resolve(__dirname, '..', '..');
const sampleDir = path.join(repoRoot, 'test', 'data', 'apt-sample');
const translationFile = path.join(sampleDir, 'Translation-en');
const packagesFile = path.join(sampleDir, 'Packages');

const omegaText = 'libomega reads and writes omega archives, a simple container format for structured records.';

/** What the sample must give, sorted by id. beta (document under 40 chars) and epsilon (no translation) are absent. */
const expectedRows: DebdescRow[] = [
  {
    id: 'delta-arm',
    source: 'delta-arm', // not in the amd64 Packages list: its own source
    query: 'delta firmware loader for ARM boards',
    document: 'This package installs a loader for the delta firmware on ARM boards; it is built for arm64 and armhf only.',
  },
  {
    id: 'gamma',
    source: 'gamma',
    // Two Translation-en entries: the one whose Description-md5 Packages carries wins over the first.
    query: 'gamma ray spectrum viewer',
    document:
      'Gamma plots gamma ray spectra recorded by scintillation detectors and exports them as CSV — café-grade science.',
  },
  {
    id: 'libomega-dev',
    source: 'omega', // "Source: omega (1.2-3)": the version is dropped
    query: 'development files for the omega archive format',
    document: omegaText,
  },
  { id: 'libomega1', source: 'omega', query: 'shared library for the omega archive format', document: omegaText },
  {
    id: 'omega-tools',
    source: 'omega',
    query: 'command-line tools for the omega archive format',
    // Three paragraphs (" ." breaks; the doubled " ." makes no empty paragraph); verbatim lines are trimmed
    // and joined with a space like the rest.
    document:
      'Omega is a simple container format for structured records, designed for streaming and random access.\n' +
      'This package contains the command-line utilities: omega-cat    - print the records of an archive ' +
      'omega-check  - validate archives\n' +
      'See also libomega1 for the shared library.',
  },
  {
    id: 'tau',
    source: 'tau', // no Source field: its own source
    query: 'tau calculator with a graphical interface',
    document:
      'Tau is a desk calculator that works in turns instead of radians. It supports unit conversion and arbitrary precision.',
  },
];

function sampleRows(): ReturnType<typeof buildRows> {
  const translations = parseTranslation(fs.readFileSync(translationFile, 'utf8'));
  const packages = parsePackages(fs.readFileSync(packagesFile, 'utf8'));
  return buildRows(translations, packages);
}

test('parseDeb822: fields, continuation lines, stanza breaks, CRLF', () => {
  const text = 'Package: a\r\nTag: x,\r\n y\r\n\r\n\r\n# comment\nPackage: b\nDescription: s\n l1\n .\n l2';
  const st = [...parseDeb822(text)];
  assert.equal(st.length, 2);
  assert.equal(st[0].get('Package'), 'a');
  assert.equal(st[0].get('Tag'), 'x,\n y');
  assert.equal(st[1].get('Description'), 's\n l1\n .\n l2');
  const only = [...parseDeb822(text, new Set(['Package']))];
  assert.deepEqual(
    only.map((s) => [...s.keys()]),
    [['Package'], ['Package']],
  );
});

test('parseDescription: synopsis, paragraphs on " .", lines joined with a space', () => {
  const d = parseDescription('  A synopsis \n first line\n second  line \n .\n .\n   verbatim   text\n .');
  assert.equal(d.synopsis, 'A synopsis');
  assert.equal(d.long, 'first line second  line\nverbatim   text');
  assert.deepEqual(parseDescription('only a synopsis'), { synopsis: 'only a synopsis', long: '' });
});

test('sourceName drops the version', () => {
  assert.equal(sourceName('omega (1.2-3)'), 'omega');
  assert.equal(sourceName('omega'), 'omega');
  assert.equal(sourceName(' binutils (2.40-2) '), 'binutils');
});

test('parseTranslation and parsePackages read the sample lists', () => {
  const t = parseTranslation(fs.readFileSync(translationFile, 'utf8'));
  assert.deepEqual(
    t.map((e) => e.pkg),
    ['beta', 'delta-arm', 'gamma', 'gamma', 'libomega-dev', 'libomega1', 'omega-tools', 'tau'],
  );
  assert.equal(t[0].md5, '8ef236fddefec7f55b6ea4aa34a05394');
  const p = parsePackages(fs.readFileSync(packagesFile, 'utf8'));
  assert.deepEqual(
    p.map((e) => [e.pkg, e.source, e.md5 !== null]),
    [
      ['beta', 'beta', true],
      ['epsilon', 'epsilon', false],
      ['gamma', 'gamma', true],
      ['libomega-dev', 'omega', true],
      ['libomega1', 'omega', true],
      ['omega-tools', 'omega', true],
      ['tau', 'tau', true],
    ],
  );
});

test('buildRows joins the sample into the expected rows', () => {
  const { rows, stats } = sampleRows();
  assert.deepEqual(rows, expectedRows);
  assert.deepEqual(stats, { translated: 7, inPackages: 6, md5Matched: 6, dropped: 1 });
  // Without a Description-md5 in Packages, the join falls back to the name (first entry).
  const t = parseTranslation(fs.readFileSync(translationFile, 'utf8'));
  const noMd5 = parsePackages(fs.readFileSync(packagesFile, 'utf8')).map((p) => ({ ...p, md5: null }));
  const gamma = buildRows(t, noMd5).rows.find((r) => r.id === 'gamma');
  assert.equal(gamma?.query, 'old gamma synopsis');
});

test('splits: sha1(source) mod 100, siblings stay together', () => {
  // sha1 mod 100 (computed independently): omega 2 → test, tau 5 → dev, gamma 35, delta-arm 81 → train.
  assert.equal(splitOfSource('omega'), 'test');
  assert.equal(splitOfSource('tau'), 'dev');
  assert.equal(splitOfSource('gamma'), 'train');
  assert.equal(splitOfSource('delta-arm'), 'train');
  const parts = splitRows(sampleRows().rows);
  assert.deepEqual(
    parts.train.map((r) => r.id),
    ['delta-arm', 'gamma'],
  );
  assert.deepEqual(
    parts.dev.map((r) => r.id),
    ['tau'],
  );
  assert.deepEqual(
    parts.test.map((r) => r.id),
    ['libomega-dev', 'libomega1', 'omega-tools'],
  );
});

test('toJsonl: fixed key order, one line per row', () => {
  const line = toJsonl([{ document: 'd', query: 'q', source: 's', id: 'i' } as DebdescRow]);
  assert.equal(line, '{"id":"i","source":"s","query":"q","document":"d"}\n');
});

test('relevance: own document plus identical texts', () => {
  const rows = sampleRows().rows;
  const rel = relevantIds(rows);
  assert.deepEqual(rel.get('libomega1'), ['libomega-dev', 'libomega1']);
  assert.deepEqual(rel.get('libomega-dev'), ['libomega-dev', 'libomega1']);
  assert.deepEqual(rel.get('tau'), ['tau']);
  // Dev-style: queries from one split, corpus = all rows.
  const parts = splitRows(rows);
  const relTest = relevantIds(parts.test, rows);
  assert.deepEqual([...relTest.keys()], ['libomega-dev', 'libomega1', 'omega-tools']);
  const idx = relevantIndices(parts.test, rows);
  assert.deepEqual(idx, [[2, 3], [2, 3], [4]]);
});

test('builder script: sample lists (plain and gzip) → reproducible files', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'debdesc-'));
  try {
    const gzT = path.join(tmp, 'Translation-en.gz');
    const gzP = path.join(tmp, 'Packages.gz');
    fs.writeFileSync(gzT, zlib.gzipSync(fs.readFileSync(translationFile)));
    fs.writeFileSync(gzP, zlib.gzipSync(fs.readFileSync(packagesFile)));
    assert.equal(readAptList(gzT), fs.readFileSync(translationFile, 'utf8'));

    const outA = path.join(tmp, 'a');
    const outB = path.join(tmp, 'b');
    buildMain(['--translation', translationFile, '--packages', packagesFile, '--out', outA, '--build-date', '2000-01-01', '--quiet']);
    buildMain(['--translation', gzT, '--packages', gzP, '--out', outB, '--build-date', '2000-01-01', '--quiet']);
    for (const f of ['train.jsonl.gz', 'dev.jsonl.gz', 'test.jsonl.gz']) {
      const a = fs.readFileSync(path.join(outA, f));
      assert.ok(a.equals(fs.readFileSync(path.join(outB, f))), `${f} differs between builds`);
      // gzip header: no name flag, mtime 0.
      assert.equal(a[3] & 0x08, 0, `${f} stores a file name`);
      assert.equal(a.readUInt32LE(4), 0, `${f} stores an mtime`);
    }
    assert.equal(
      fs.readFileSync(path.join(outA, 'README.md'), 'utf8'),
      fs.readFileSync(path.join(outB, 'README.md'), 'utf8').replace(/Translation-en\.gz/g, 'Translation-en').replace(/Packages\.gz/g, 'Packages'),
    );
    const parts = splitRows(expectedRows);
    for (const split of ['train', 'dev', 'test'] as const) {
      assert.deepEqual(await loadDebdesc(split, { dir: outA }), parts[split]);
    }
    assert.deepEqual(await loadDebdesc('all', { dir: outA }), expectedRows);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('committed data/debdesc files load with the expected sizes', async () => {
  const [train, dev, testRows] = await Promise.all([loadDebdesc('train'), loadDebdesc('dev'), loadDebdesc('test')]);
  assert.ok(train.length > 50_000 && train.length < 65_000, `train: ${train.length}`);
  assert.ok(dev.length > 2_500 && dev.length < 4_500, `dev: ${dev.length}`);
  assert.ok(testRows.length > 2_500 && testRows.length < 4_500, `test: ${testRows.length}`);
  const splitOf = new Map<string, string>();
  for (const [name, rows] of [['train', train], ['dev', dev], ['test', testRows]] as const) {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (i > 0) assert.ok(rows[i - 1].id < r.id, `${name}: not sorted by id at ${r.id}`);
      assert.ok(r.query.length > 0, `${r.id}: empty query`);
      assert.ok([...r.document].length >= 40, `${r.id}: short document`);
      const prev = splitOf.get(r.source);
      assert.ok(prev === undefined || prev === name, `source ${r.source} straddles ${prev} and ${name}`);
      splitOf.set(r.source, name);
    }
  }
  // Spot-check the split rule on a sample of sources.
  let checked = 0;
  for (const [source, name] of splitOf) {
    if (checked++ % 97 === 0) assert.equal(splitOfSource(source), name, source);
  }
  const all = await loadDebdesc('all');
  assert.equal(all.length, train.length + dev.length + testRows.length);
  assert.equal(new Set(all.map((r) => r.id)).size, all.length, 'ids are unique');
  const readme = fs.readFileSync(path.join(repoRoot, 'data', 'debdesc', 'README.md'), 'utf8');
  for (const [n, rows] of [['train', train], ['dev', dev], ['test', testRows]] as const) {
    assert.match(readme, new RegExp(`\\| \`${n}\\.jsonl\\.gz\` \\| ${rows.length} \\|`));
  }
});
