// Shared test helpers: where the Hugging Face fixtures live, and reading safetensors headers independently
// of the native parser.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
/** The public Hugging Face fixtures, kept in the repository (test/fixtures/hf, provenance in its README); RRNATIVE_FIXTURES overrides. */
export const fixturesDir = process.env.RRNATIVE_FIXTURES ?? path.join(repoRoot, 'test', 'fixtures', 'hf');
export const bertMiniDir = path.join(fixturesDir, 'bert-mini-a');
/**
 * Set (to the reason) when oneDNN is capped below AVX-512 (ONEDNN_MAX_CPU_ISA, test/isa-avx2.test.ts) on a CPU that
 * has it: LibTorch picks oneDNN for CPU bf16 products by the CPU's own flags, and the capped oneDNN then refuses
 * them ("could not create a primitive descriptor iterator"). A real AVX2-only CPU takes LibTorch's own bf16 kernels.
 */
export const bf16CpuUnderIsaCap: string | false = (() => {
  const cap = oneDnnIsaCap();
  if (!['SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2'].includes(cap)) return false;
  return cpuFlags().has('avx512bw') ? `ONEDNN_MAX_CPU_ISA=${cap} on an AVX-512 CPU: LibTorch sends CPU bf16 products to a oneDNN that refuses them` : false;
})();

/** oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA, or DNNL_ its older name), upper case; '' when none. */
export function oneDnnIsaCap(): string {
  return (process.env.ONEDNN_MAX_CPU_ISA ?? process.env.DNNL_MAX_CPU_ISA ?? '').toUpperCase();
}

/** The CPU's flags from /proc/cpuinfo (avx2, avx512bw, avx512_vnni, …), read independently of the addon's cpuid. */
export function cpuFlags(): Set<string> {
  const text = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return new Set((/^flags\s*:(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/));
}

/** `text` as a literal inside a RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Where the fixture comparisons run: RRNATIVE_TEST_DEVICE=cuda runs them on the GPU (CI has none: cpu). */
export const testDevice: 'cpu' | 'cuda' = process.env.RRNATIVE_TEST_DEVICE === 'cuda' ? 'cuda' : 'cpu';

export interface BertFixture {
  max_length: number;
  eval: {
    pairs: [string, string][];
    encoded: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
    logits: number[] | number[][];
    logits_single: number[] | number[][];
  };
  train: Record<string, TrainTrace>;
}

export interface TrainTrace {
  batches: { pairs: [string, string, number][]; encoded: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] } }[];
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  schedule: { name: string; warmup_steps: number; total_steps: number };
  max_grad_norm: number;
  steps: { step: number; lr: number; loss: number; grad_norm: number }[];
  eval_logits_after: number[] | number[][];
}

export function loadFixture<T = BertFixture>(dir: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json'), 'utf8')) as T;
}

/** Logits as one number per row (num_labels = 1 fixtures store either [n] or [n][1]). */
export function column(values: number[] | number[][]): number[] {
  return values.map((v) => (Array.isArray(v) ? v[0] : v));
}

export function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

export function tempDir(prefix = 'rrnative-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Copies a model folder (so a test can damage the copy). */
export function copyModel(from: string, skip: string[] = []): string {
  const dir = tempDir();
  for (const name of fs.readdirSync(from)) {
    if (!skip.includes(name)) fs.copyFileSync(path.join(from, name), path.join(dir, name));
  }
  return dir;
}

export interface SafetensorsInfo {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  metadata: Record<string, string> | undefined;
  dataStart: number;
}

export function readSafetensorsHeader(file: string): SafetensorsInfo {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + len).toString('utf8'));
  const metadata = json.__metadata__;
  delete json.__metadata__;
  return { header: json, metadata, dataStart: 8 + len };
}

/** Builds a safetensors file from a header object and a data section, for damaged-file tests. */
export function writeRawSafetensors(file: string, header: unknown, data: Buffer): void {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

/**
 * A copy of `dir` with its model.safetensors split into `parts` shards and a model.safetensors.index.json, as
 * transformers' save_pretrained(max_shard_size=…) writes a large model (model-0000N-of-0000M.safetensors).
 */
export function shardModel(dir: string, parts: number): string {
  const out = copyModel(dir);
  const file = path.join(out, 'model.safetensors');
  const { header, dataStart } = readSafetensorsHeader(file);
  const buf = fs.readFileSync(file);
  const names = Object.keys(header);
  const weightMap: Record<string, string> = {};
  for (let p = 0; p < parts; p++) {
    const shard = `model-${String(p + 1).padStart(5, '0')}-of-${String(parts).padStart(5, '0')}.safetensors`;
    const mine = names.filter((_, i) => i % parts === p);
    const chunks: Buffer[] = [];
    const shardHeader: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const name of mine) {
      const { dtype, shape, data_offsets: [begin, end] } = header[name];
      chunks.push(buf.subarray(dataStart + begin, dataStart + end));
      shardHeader[name] = { dtype, shape, data_offsets: [offset, offset + end - begin] };
      offset += end - begin;
      weightMap[name] = shard;
    }
    writeRawSafetensors(path.join(out, shard), shardHeader, Buffer.concat(chunks));
  }
  fs.rmSync(file);
  fs.writeFileSync(path.join(out, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: buf.length - dataStart }, weight_map: weightMap }, null, 2));
  return out;
}
