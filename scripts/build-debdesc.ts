// Builds data/debdesc/ (train/dev/test .jsonl.gz + README.md) from apt's Debian bookworm main lists.
//
//   apt-get -o Acquire::Languages=en update      # fetches Translation-en next to Packages
//   npx tsc -p . && node dist/scripts/build-debdesc.js [--build-date YYYY-MM-DD]
//   node dist/scripts/build-debdesc.js --translation FILE --packages FILE [--release FILE] [--out DIR]
//
// Input lists may be plain, .gz, .xz, .lz4 (or anything apt itself reads: `apt-helper cat-file` is tried
// first). Output is byte-for-byte reproducible for the same inputs: rows sorted by id, JSON with fixed key
// order, gzip without name or timestamp (GNU gzip -n -9 when present, else Node's zlib at level 9).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import {
  buildRows,
  BuildRowsStats,
  DEBDESC_SPLITS,
  DebdescSplit,
  MIN_DOCUMENT_LENGTH,
  parsePackages,
  parseTranslation,
  splitRows,
  toJsonl,
} from '../src/data/debdesc';

const APT_HELPER = '/usr/lib/apt/apt-helper';
const COMPRESSED = ['', '.lz4', '.gz', '.xz', '.zst', '.bz2'];

/** Reads an apt list file, decompressing it: apt-helper cat-file if there, else by file extension. */
export function readAptList(file: string): string {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const big = { maxBuffer: 1 << 30 };
  if (fs.existsSync(APT_HELPER)) {
    const r = spawnSync(APT_HELPER, ['cat-file', file], big);
    if (r.status === 0 && r.stdout) return r.stdout.toString('utf8');
  }
  const ext = path.extname(file);
  if (ext === '.gz') return zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  const tools: Record<string, string[]> = {
    '.xz': ['xz', '-dc'],
    '.lz4': ['lz4', '-dc'],
    '.zst': ['zstd', '-dc'],
    '.bz2': ['bzip2', '-dc'],
  };
  const tool = tools[ext];
  if (!tool) return fs.readFileSync(file, 'utf8');
  const r = spawnSync(tool[0], [...tool.slice(1), file], big);
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.stderr.toString().trim();
    throw new Error(`${file}: cannot decompress with ${tool[0]} (${why}); install it (e.g. apt-get install -y ${tool[0]})`);
  }
  return r.stdout.toString('utf8');
}

/** The lists of `suite`/`component` in apt's lists folder (not -updates/-security: the suite must match exactly). */
export function findAptLists(
  listsDir: string,
  suite = 'bookworm',
  component = 'main',
  arch = 'amd64',
): { translation: string; packages: string; release: string | null } {
  const names = fs.readdirSync(listsDir).sort();
  const pick = (stem: string, what: string): string | null => {
    const hits = names.filter((n) => COMPRESSED.some((ext) => n.endsWith(`_dists_${suite}_${stem}${ext}`)));
    if (hits.length > 1) console.warn(`[debdesc] several ${what} lists, using ${hits[0]}: ${hits.join(', ')}`);
    return hits.length ? path.join(listsDir, hits[0]) : null;
  };
  const translation = pick(`${component}_i18n_Translation-en`, 'Translation-en');
  const packages = pick(`${component}_binary-${arch}_Packages`, 'Packages');
  if (!translation) {
    throw new Error(
      `no ${suite} ${component} Translation-en list in ${listsDir}: run \`apt-get -o Acquire::Languages=en update\` first`,
    );
  }
  if (!packages) throw new Error(`no ${suite} ${component} binary-${arch} Packages list in ${listsDir}: run apt-get update`);
  return { translation, packages, release: pick('InRelease', 'InRelease') ?? pick('Release', 'Release') };
}

let gzipTool: string | null | undefined;
/** 'GNU gzip x.y' when GNU gzip is on PATH, else null. */
function gnuGzip(): string | null {
  if (gzipTool === undefined) {
    const r = spawnSync('gzip', ['--version']);
    const first = r.status === 0 ? r.stdout.toString().split('\n')[0].trim() : '';
    gzipTool = /^gzip \d/.test(first) ? `GNU ${first}` : null;
  }
  return gzipTool;
}

/** gzip with no file name and mtime 0, so equal input gives equal bytes. */
export function gzipReproducible(data: Buffer): { bytes: Buffer; tool: string } {
  const gnu = gnuGzip();
  if (gnu) {
    const r = spawnSync('gzip', ['-n', '-9', '-c'], { input: data, maxBuffer: 1 << 30 });
    if (r.status === 0) return { bytes: r.stdout, tool: `${gnu} -n -9` };
  }
  return { bytes: zlib.gzipSync(data, { level: 9 }), tool: `Node zlib ${process.versions.zlib} level 9` };
}

function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export interface BuiltDebdesc {
  /** File name → bytes: train/dev/test .jsonl.gz. */
  files: Record<string, Buffer>;
  counts: Record<DebdescSplit, number>;
  stats: BuildRowsStats;
  gzipTool: string;
}

/** Parses, joins, splits, serializes and compresses. Deterministic in its inputs. */
export function buildDebdesc(translationText: string, packagesText: string): BuiltDebdesc {
  const { rows, stats } = buildRows(parseTranslation(translationText), parsePackages(packagesText));
  const parts = splitRows(rows);
  const files: Record<string, Buffer> = {};
  const counts = { train: 0, dev: 0, test: 0 } as Record<DebdescSplit, number>;
  let tool = '';
  for (const split of DEBDESC_SPLITS) {
    counts[split] = parts[split].length;
    const gz = gzipReproducible(Buffer.from(toJsonl(parts[split]), 'utf8'));
    files[`${split}.jsonl.gz`] = gz.bytes;
    tool = gz.tool;
  }
  return { files, counts, stats, gzipTool: tool };
}

function releaseDate(file: string | null): string | null {
  if (!file) return null;
  try {
    const text = readAptList(file);
    const m = /^Date:\s*(.+)$/m.exec(text);
    return m ? m[1].trim() : null;
  } catch {
    return null;
  }
}

function kib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

export function renderReadme(
  built: BuiltDebdesc,
  info: {
    buildDate: string;
    releaseDate: string | null;
    inputs: { role: string; name: string; sha256: string }[];
  },
): string {
  const total = DEBDESC_SPLITS.reduce((s, k) => s + built.counts[k], 0);
  const totalBytes = DEBDESC_SPLITS.reduce((s, k) => s + built.files[`${k}.jsonl.gz`].length, 0);
  const fileRows = DEBDESC_SPLITS.map((k) => {
    const f = `${k}.jsonl.gz`;
    return `| \`${f}\` | ${built.counts[k]} | ${built.files[f].length} (${kib(built.files[f].length)}) | \`${sha256(built.files[f])}\` |`;
  });
  const inputRows = info.inputs.map((i) => `| ${i.role} | \`${i.name}\` | \`${i.sha256}\` |`);
  return `# debdesc: Debian package descriptions as a retrieval data set

Each row is one binary package of **Debian bookworm, main**: the \`query\` is its one-line synopsis and the
\`document\` its long description. Generated by \`scripts/build-debdesc.ts\`; do not edit by hand.

## Provenance

- Descriptions: the suite's \`main/i18n/Translation-en\` list (as fetched by
  \`apt-get -o Acquire::Languages=en update\`), joined to \`main/binary-amd64/Packages\` for each binary
  package's \`Source\`.
- Archive Release date: ${info.releaseDate ?? 'unknown'}.
- Build date: ${info.buildDate}.
- Inputs (SHA-256 of the decompressed lists):

| list | file | sha256 |
| --- | --- | --- |
${inputRows.join('\n')}

## Format

\`train.jsonl.gz\`, \`dev.jsonl.gz\`, \`test.jsonl.gz\`: one JSON object per line,
\`{"id", "source", "query", "document"}\`, sorted by \`id\`; compressed with ${built.gzipTool} (no name, no
timestamp), so a rebuild from the same lists is byte-for-byte identical.

- \`id\`: binary package name; \`source\`: its source package (the \`Source\` field without a version; the
  package itself when there is none, or when the package is missing from the amd64 Packages list).
- \`query\`: the synopsis (first line of the description).
- \`document\`: the long description; paragraphs (separated by \` .\` lines) joined with a newline, lines
  inside a paragraph joined with a space, each line trimmed.
- When a package has several Translation-en entries, the one whose \`Description-md5\` the Packages entry
  carries is used, else the first.
- Rows whose document is under ${MIN_DOCUMENT_LENGTH} characters are dropped (${built.stats.dropped} rows).

## Splits

By source package, so sibling binaries never straddle splits: \`sha1(source)\` read as a big-endian integer,
mod 100: below 5 is test, below 10 dev, the rest train.

| file | rows | bytes | sha256 |
| --- | ---: | ---: | --- |
${fileRows.join('\n')}
| total | ${total} | ${totalBytes} (${kib(totalBytes)}) | |

## Retrieval task

The corpus is every row's document (all three splits). A query's relevant documents are its own package's
document and every document with identical text (some packages share a description). \`loadDebdesc(split)\`
and \`relevantIds(queries, corpus)\` in \`src/data/debdesc.ts\` load the files and apply this rule.

## Rebuilding

\`\`\`
apt-get -o Acquire::Languages=en update
npx tsc -p . && node dist/scripts/build-debdesc.js --build-date ${info.buildDate}
\`\`\`

The build reads the lists from \`/var/lib/apt/lists\` (or \`--translation FILE --packages FILE [--release FILE]\`);
lists that apt compressed with lz4, gzip or xz are read with \`apt-helper cat-file\` (or \`lz4\`/\`xz\`/zlib).
A rebuild after the archive has moved on gives other rows: compare the input hashes above.

## License

The descriptions come from the control files of Debian packages (as published in the Debian archive's
Translation-en and Packages indices); each description belongs to its package and is distributed under that
package's license terms. This folder only collects them as a data set for retrieval experiments.
`;
}

function todayUtc(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const d = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  return d.toISOString().slice(0, 10);
}

export function main(argv: string[] = process.argv.slice(2)): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      'lists-dir': { type: 'string', default: '/var/lib/apt/lists' },
      suite: { type: 'string', default: 'bookworm' },
      component: { type: 'string', default: 'main' },
      arch: { type: 'string', default: 'amd64' },
      translation: { type: 'string' },
      packages: { type: 'string' },
      release: { type: 'string' },
      out: { type: 'string' },
      'build-date': { type: 'string' },
      'no-readme': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const log = (msg: string): void => {
    if (!values.quiet) console.log(`[debdesc] ${msg}`);
  };
  let translation = values.translation;
  let packages = values.packages;
  let release = values.release ?? null;
  if (!translation !== !packages) throw new Error('give both --translation and --packages, or neither');
  if (!translation || !packages) {
    const found = findAptLists(values['lists-dir']!, values.suite, values.component, values.arch);
    translation = found.translation;
    packages = found.packages;
    release = release ?? found.release;
  }
  const outDir = values.out ?? path.resolve(__dirname, '..', '..', 'data', 'debdesc');
  log(`Translation-en: ${translation}`);
  log(`Packages:       ${packages}`);
  const t0 = Date.now();
  const translationText = readAptList(translation);
  const packagesText = readAptList(packages);
  const built = buildDebdesc(translationText, packagesText);
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, bytes] of Object.entries(built.files)) fs.writeFileSync(path.join(outDir, name), bytes);
  if (!values['no-readme']) {
    const buildDate = values['build-date'] ?? todayUtc();
    if (!/^\d{4}-\d{2}-\d{2}$/.test(buildDate)) throw new Error(`--build-date must be YYYY-MM-DD, got ${buildDate}`);
    const readme = renderReadme(built, {
      buildDate,
      releaseDate: releaseDate(release),
      inputs: [
        { role: 'Translation-en', name: path.basename(translation), sha256: sha256(translationText) },
        { role: 'Packages', name: path.basename(packages), sha256: sha256(packagesText) },
      ],
    });
    fs.writeFileSync(path.join(outDir, 'README.md'), readme);
  }
  const s = built.stats;
  log(
    `${s.translated} packages in Translation-en, ${s.inPackages} in Packages (${s.md5Matched} by Description-md5), ` +
      `${s.dropped} dropped (document < ${MIN_DOCUMENT_LENGTH} chars)`,
  );
  for (const split of DEBDESC_SPLITS) {
    const f = `${split}.jsonl.gz`;
    log(`${f}: ${built.counts[split]} rows, ${built.files[f].length} bytes`);
  }
  log(`wrote ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${built.gzipTool})`);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`build-debdesc: ${(err as Error).message}`);
    process.exit(1);
  }
}
