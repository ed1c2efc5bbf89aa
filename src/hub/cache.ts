// One repository's folder in the Hugging Face cache, laid out as Python's huggingface_hub lays it out
// (file_download.py): <cache>/{models|datasets}--org--name/ with blobs/<etag> (the file, named by its LFS
// sha256 or git sha1), snapshots/<commit>/<path> (relative symlinks to the blobs) and refs/<revision> (the
// commit a branch or tag pointed to when last asked). A blob is written as <etag>.incomplete and renamed when
// whole, and the snapshot link is made only then: a killed download never leaves a file that looks finished.
import fs from 'node:fs';
import path from 'node:path';

export type RepoType = 'model' | 'dataset';

/** A commit id, as refs/ and snapshots/ name them. */
export const COMMIT = /^[0-9a-f]{40}$/;

export class RepoCache {
  readonly folder: string;

  constructor(readonly cacheDir: string, readonly type: RepoType, readonly id: string) {
    this.folder = path.join(cacheDir, `${type}s--${id.split('/').join('--')}`);
  }

  /** The commit `revision` resolved to when it was last asked for; null when the cache has no such ref. */
  readRef(revision: string): string | null {
    try {
      const sha = fs.readFileSync(path.join(this.folder, 'refs', revision), 'utf8').trim();
      return COMMIT.test(sha) ? sha : null;
    } catch {
      return null;
    }
  }

  writeRef(revision: string, sha: string): void {
    const file = path.join(this.folder, 'refs', revision);
    if (this.readRef(revision) === sha) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, sha);  // no newline, as Python writes it
    fs.renameSync(temporary, file);
  }

  snapshotDir(sha: string): string {
    return path.join(this.folder, 'snapshots', sha);
  }

  /** Whether the snapshot of `sha` holds `file` (a link whose blob exists, or a plain file). */
  has(sha: string, file: string): boolean {
    return fs.existsSync(path.join(this.snapshotDir(sha), file));
  }

  blobPath(etag: string): string {
    return path.join(this.folder, 'blobs', etag);
  }

  /** Links snapshots/<sha>/<file> to blobs/<etag>, relatively (../../blobs/… for a file at the root). */
  link(sha: string, file: string, etag: string): void {
    const pointer = path.join(this.snapshotDir(sha), file);
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    const target = path.relative(path.dirname(pointer), this.blobPath(etag));
    fs.rmSync(pointer, { force: true });
    try {
      fs.symlinkSync(target, pointer);
    } catch {
      fs.copyFileSync(this.blobPath(etag), pointer);  // a file system without symlinks: Python copies too
    }
  }
}
