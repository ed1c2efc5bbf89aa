// Reading a profile (native/runtime/profiler.h through addon().stopProfiler): which kinds of kernel a step spends its GPU
// time on, and how busy the GPU was. Used by `gpu.js ours --profile` and `gpu.js table` (profile.md); on the CPU,
// by `cpu.js --profile` (formatCpuProfile).
import fs from 'node:fs';
import path from 'node:path';
import type { NativeProfileEntry, NativeProfileSummary } from '../../src/native';

export type KernelClass = 'matmul' | 'attention' | 'layer norm' | 'optimizer' | 'copy' | 'elementwise / other';

// Kernel names as CUPTI reports them: cuBLAS/cuBLASLt and CUTLASS GEMMs (sm90_xmma_gemm_…, nvjet_…,
// cutlass::Kernel2<…gemm…>), PyTorch's flash / memory-efficient attention (pytorch_flash::flash_fwd_kernel,
// fmha_cutlassF_…), its layer norm and fused AdamW kernels, and the runtime's copies and memsets.
const CLASSES: [KernelClass, RegExp][] = [
  ['attention', /flash|fmha|attention|_efficient_|mem_eff/i],
  ['matmul', /gemm|nvjet|xmma|cutlass|cublas|wgmma|splitK/i],
  ['layer norm', /layer_?norm/i],
  ['optimizer', /adam|multi_tensor|_foreach|lpnorm/i],
  ['copy', /^Memcpy|^Memset|memcpy|memset/i],
];

export function kernelClass(name: string): KernelClass {
  for (const [cls, re] of CLASSES) if (re.test(name)) return cls;
  return 'elementwise / other';
}

export interface ProfileFile {
  model: string;
  task: string;
  /** What the profiled window ran, e.g. "5 steps of 64 pairs". */
  window: string;
  summary?: NativeProfileSummary;
  error?: string;
}

/** The profile of one run, cut to the top entries per device (a full list runs to hundreds of kernel names). */
export function trimProfile(summary: NativeProfileSummary, top = 40): NativeProfileSummary {
  const pick = (device: NativeProfileEntry['device']) => summary.entries.filter((e) => e.device === device).slice(0, top);
  return { ...summary, entries: [...pick('cuda'), ...pick('cpu')] };
}

const ms = (us: number) => (us / 1000).toFixed(2);
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

/** Markdown for every DIR/profile-*.json: GPU busy share, time by kernel class, and the largest kernels. */
export function formatProfiles(work: string, topKernels = 12): string | null {
  const files = fs.existsSync(work) ? fs.readdirSync(work).filter((f) => /^profile-.*\.json$/.test(f)).sort() : [];
  if (files.length === 0) return null;
  const out: string[] = ['## Profiles (LibTorch profiler, outside the timed runs)', ''];
  for (const f of files) {
    const p = JSON.parse(fs.readFileSync(path.join(work, f), 'utf8')) as ProfileFile;
    out.push(`### ${p.model} ${p.task}: ${p.window}`, '');
    if (!p.summary) {
      out.push(`no profile: ${p.error ?? 'unknown error'}`, '');
      continue;
    }
    const s = p.summary;
    const kernels = s.entries.filter((e) => e.device === 'cuda');
    out.push(kernels.length === 0 ? `wall ${ms(s.wallUs)} ms; no GPU events (a CPU run)`
      : `wall ${ms(s.wallUs)} ms; GPU events ${ms(s.cudaKernelUs)} ms (${pct(s.cudaKernelUs, s.wallUs)} of the wall time)`);
    const byClass = new Map<KernelClass, { us: number; calls: number }>();
    for (const k of kernels) {
      const c = byClass.get(kernelClass(k.name)) ?? { us: 0, calls: 0 };
      c.us += k.totalUs;
      c.calls += k.calls;
      byClass.set(kernelClass(k.name), c);
    }
    if (kernels.length > 0) out.push('', '| kernel class | ms | share of GPU time | launches | µs per launch |', '| --- | ---: | ---: | ---: | ---: |');
    for (const [cls, c] of [...byClass].sort((a, b) => b[1].us - a[1].us)) {
      out.push(`| ${cls} | ${ms(c.us)} | ${pct(c.us, s.cudaKernelUs)} | ${c.calls} | ${(c.us / c.calls).toFixed(1)} |`);
    }
    if (kernels.length > 0) out.push('', '| kernel | class | ms | share | calls |', '| --- | --- | ---: | ---: | ---: |');
    for (const k of kernels.slice(0, topKernels)) {
      const name = k.name.length > 90 ? `${k.name.slice(0, 87)}...` : k.name;
      out.push(`| \`${name.replace(/\|/g, '\\|')}\` | ${kernelClass(k.name)} | ${ms(k.totalUs)} | ${pct(k.totalUs, s.cudaKernelUs)} | ${k.calls} |`);
    }
    const cpu = s.entries.filter((e) => e.device === 'cpu').slice(0, 8);
    if (cpu.length > 0) out.push('', `host (operators nest, totals overlap): ${cpu.map((e) => `${e.name} ${ms(e.totalUs)} ms × ${e.calls}`).join('; ')}`);
    out.push('');
  }
  return out.join('\n');
}

/** Where the torch thread's time went in one profiled run of ours: its largest operators. */
export function formatCpuProfile(title: string, file: string, top = 14): string {
  const { seconds, summary } = JSON.parse(fs.readFileSync(file, 'utf8')) as { seconds: number; summary: NativeProfileSummary };
  const cpu = summary.entries.filter((e) => e.device === 'cpu');
  const out = [`### ${title}: ${(seconds * 1000).toFixed(0)} ms timed (profiled run; the profiler adds its own overhead)`, '',
    '| operator | ms | share of the timed wall | calls | µs per call |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const e of cpu.slice(0, top)) {
    out.push(`| \`${e.name}\` | ${ms(e.totalUs)} | ${pct(e.totalUs, seconds * 1e6)} | ${e.calls} | ${(e.totalUs / e.calls).toFixed(1)} |`);
  }
  out.push('', 'Operators nest (aten::linear holds aten::addmm): totals overlap.', '');
  return out.join('\n');
}
