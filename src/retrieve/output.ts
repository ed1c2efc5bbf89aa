// Streamed, atomic file output: lines go to a temporary file next to the target, which is fsynced and
// renamed over the target on commit, so a crash or an error leaves the old file (or none), never a torn one.
import fs from 'node:fs';
import path from 'node:path';

export class AtomicLineWriter {
  readonly tmp: string;
  private readonly stream: fs.WriteStream;
  private failed: Error | null = null;
  private closed = false;

  constructor(readonly file: string) {
    const dir = path.dirname(path.resolve(file));
    if (!fs.existsSync(dir)) throw new Error(`${file}: the folder ${dir} does not exist`);
    this.tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
    this.stream = fs.createWriteStream(this.tmp);
    this.stream.on('error', (err) => {
      this.failed = err;
    });
  }

  /** Writes text, waiting when the stream's buffer is full. */
  async write(text: string): Promise<void> {
    if (this.failed) throw new Error(`${this.file}: write failed: ${this.failed.message}`);
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.stream.off('error', onError);
          resolve();
        };
        const onError = (err: Error) => {
          this.stream.off('drain', onDrain);
          reject(new Error(`${this.file}: write failed: ${err.message}`));
        };
        this.stream.once('drain', onDrain);
        this.stream.once('error', onError);
      });
    }
  }

  /** Flushes, fsyncs and renames the temporary file over the target. */
  async commit(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.failed) throw new Error(`${this.file}: write failed: ${this.failed.message}`);
    const fd = fs.openSync(this.tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(this.tmp, this.file);
  }

  /** Drops the temporary file (after an error). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
    fs.rmSync(this.tmp, { force: true });
  }
}
