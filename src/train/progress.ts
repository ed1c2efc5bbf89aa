// Training progress: a bar (step, loss, lr, pairs/s, ETA) on a terminal, plain log lines otherwise.
import cliProgress from 'cli-progress';
import type { LogEntry } from './trainer';

export class Progress {
  private readonly bar: cliProgress.SingleBar | null;

  constructor(mode: 'auto' | 'bar' | 'lines' | 'none', total: number, start: number, private readonly print: (line: string) => void) {
    const useBar = mode === 'bar' || (mode === 'auto' && Boolean(process.stderr.isTTY));
    this.quiet = mode === 'none';
    this.bar = useBar
      ? new cliProgress.SingleBar({
        format: 'step {value}/{total} |{bar}| loss {loss} | lr {lr} | {pairs} pairs/s | ETA {eta_formatted}',
        stream: process.stderr, hideCursor: true, etaBuffer: 50,
      }, cliProgress.Presets.shades_classic)
      : null;
    this.bar?.start(total, start, { loss: '-', lr: '-', pairs: '-' });
  }

  private readonly quiet: boolean;

  /** Each step; `loss` only where the step read it (single-process runs read it every logging_steps). */
  update(step: number, values: { loss?: number; lr: number }): void {
    this.bar?.update(step, { ...(values.loss === undefined ? {} : { loss: values.loss.toFixed(4) }), lr: values.lr.toExponential(2) });
  }

  /** A logged entry: shown in the bar's fields, or printed as a line. */
  show(entry: LogEntry): void {
    if (this.quiet) return;
    if (this.bar) {
      if ('pairs_per_s' in entry) this.bar.update({ pairs: entry.pairs_per_s.toFixed(1), loss: entry.loss.toFixed(4) });
      if (Object.keys(entry).some((k) => k.startsWith('eval_'))) {
        this.bar.stop();
        this.print(formatEntry(entry));
        this.bar.start(this.bar.getTotal(), entry.step);
      }
      return;
    }
    this.print(formatEntry(entry));
  }

  stop(): void {
    this.bar?.stop();
  }
}

export function formatEntry(entry: LogEntry): string {
  const parts = Object.entries(entry)
    .filter(([k]) => k !== 'stage')
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(3) : v.toFixed(4)}`);
  return parts.join(' | ');
}
