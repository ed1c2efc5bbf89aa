// Download progress: a bar per file on a terminal (stderr), plain lines elsewhere (files of 1 MB and more, and a
// summary), as huggingface_hub's tqdm bars and their log lines.
import fs from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import cliProgress from 'cli-progress';

const MB = 1e6;

export class DownloadProgress {
  private files = 0;
  private bytes = 0;
  private readonly started = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly label: string, private readonly log: (line: string) => void) {}

  /** Streams `body` into `file` (appending from `start`), showing the progress of `path` (`total` bytes). */
  async write(path: string, total: number, start: number, body: ReadableStream<Uint8Array>, file: string): Promise<void> {
    const bar = this.tty && total >= MB ? new cliProgress.SingleBar({
      format: `${this.label} ${path} |{bar}| {percentage}% {value_mb}/{total_mb} MB {speed} MB/s`, stream: process.stderr, hideCursor: true,
    }, cliProgress.Presets.shades_classic) : null;
    if (!bar && total >= MB) this.log(`downloading ${this.label} ${path} (${(total / MB).toFixed(1)} MB${start ? `, resuming at ${(start / MB).toFixed(1)} MB` : ''})`);
    const t0 = Date.now();
    let done = start;
    bar?.start(total, start, { value_mb: (start / MB).toFixed(1), total_mb: (total / MB).toFixed(1), speed: '-' });
    const out = fs.createWriteStream(file, { flags: start > 0 ? 'a' : 'w' });
    try {
      for await (const chunk of Readable.fromWeb(body as WebReadableStream<Uint8Array>)) {
        done += chunk.length;
        bar?.update(done, { value_mb: (done / MB).toFixed(1), speed: ((done - start) / MB / Math.max((Date.now() - t0) / 1000, 1e-3)).toFixed(1) });
        if (!out.write(chunk)) await once(out, 'drain');
      }
    } finally {
      // What arrived is kept, also when the download broke off: the next one resumes from there.
      await new Promise<void>((resolve, reject) => { out.once('error', reject); out.end(resolve); });
      bar?.stop();
    }
    this.files += 1;
    this.bytes += done - start;
  }

  finish(folder: string): void {
    if (this.files === 0) return;
    this.log(`${this.label}: ${this.files} file${this.files > 1 ? 's' : ''}, ${(this.bytes / MB).toFixed(1)} MB downloaded in ` +
      `${((Date.now() - this.started) / 1000).toFixed(1)} s into ${folder}`);
  }
}
