// Small helpers shared across src/: JSON files, atomic writes, error text.
import fs from 'node:fs';
import path from 'node:path';
import type { ZodError } from 'zod';

/** Reads a JSON file; a syntax error names the file, line and column. */
export function readJsonFile(file: string): unknown {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const pos = /position (\d+)/.exec(message);
    if (pos) {
      const offset = Number(pos[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      throw new Error(`${file}:${line}:${column}: invalid JSON (${message})`);
    }
    throw new Error(`${file}: invalid JSON (${message})`);
  }
}

/** One line per problem: `source: key.path: message`. */
export function formatZodError(error: ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.length ? issue.path.map(String).join('.') : '(root)';
      return `${source}: ${key}: ${issue.message}`;
    })
    .join('\n');
}

/** Writes a file so that a crash leaves either the old or the new content, never a torn one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

type NumericArray = Int32Array | Uint32Array | Float32Array | Float64Array;

/** A typed array that grows by doubling, for columns whose length is unknown until the end. */
export class GrowableArray<T extends NumericArray> {
  data: T;
  length = 0;

  constructor(private readonly Ctor: { new (n: number): T }, capacity = 1024) {
    this.data = new Ctor(capacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new this.Ctor(this.data.length * 2);
      bigger.set(this.data as never);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** The filled part's bytes (no copy). */
  bytes(): Buffer {
    return Buffer.from(this.data.buffer, this.data.byteOffset, this.length * this.data.BYTES_PER_ELEMENT);
  }
}
