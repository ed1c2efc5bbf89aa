"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.RepoCache = exports.COMMIT = void 0;
// One repository's folder in the Hugging Face cache, laid out as Python's huggingface_hub lays it out
// (file_download.py): <cache>/{models|datasets}--org--name/ with blobs/<etag> (the file, named by its LFS
// sha256 or git sha1), snapshots/<commit>/<path> (relative symlinks to the blobs) and refs/<revision> (the
// commit a branch or tag pointed to when last asked). A blob is written as <etag>.incomplete and renamed when
// whole, and the snapshot link is made only then: a killed download never leaves a file that looks finished.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
/** A commit id, as refs/ and snapshots/ name them. */
exports.COMMIT = /^[0-9a-f]{40}$/;
class RepoCache {
    cacheDir;
    type;
    id;
    folder;
    constructor(cacheDir, type, id) {
        this.cacheDir = cacheDir;
        this.type = type;
        this.id = id;
        this.folder = node_path_1.default.join(cacheDir, `${type}s--${id.split('/').join('--')}`);
    }
    /** The commit `revision` resolved to when it was last asked for; null when the cache has no such ref. */
    readRef(revision) {
        try {
            const sha = node_fs_1.default.readFileSync(node_path_1.default.join(this.folder, 'refs', revision), 'utf8').trim();
            return exports.COMMIT.test(sha) ? sha : null;
        }
        catch {
            return null;
        }
    }
    writeRef(revision, sha) {
        const file = node_path_1.default.join(this.folder, 'refs', revision);
        if (this.readRef(revision) === sha)
            return;
        node_fs_1.default.mkdirSync(node_path_1.default.dirname(file), { recursive: true });
        const temporary = `${file}.${process.pid}.tmp`;
        node_fs_1.default.writeFileSync(temporary, sha); // no newline, as Python writes it
        node_fs_1.default.renameSync(temporary, file);
    }
    snapshotDir(sha) {
        return node_path_1.default.join(this.folder, 'snapshots', sha);
    }
    /** Whether the snapshot of `sha` holds `file` (a link whose blob exists, or a plain file). */
    has(sha, file) {
        return node_fs_1.default.existsSync(node_path_1.default.join(this.snapshotDir(sha), file));
    }
    blobPath(etag) {
        return node_path_1.default.join(this.folder, 'blobs', etag);
    }
    /** Links snapshots/<sha>/<file> to blobs/<etag>, relatively (../../blobs/… for a file at the root). */
    link(sha, file, etag) {
        const pointer = node_path_1.default.join(this.snapshotDir(sha), file);
        node_fs_1.default.mkdirSync(node_path_1.default.dirname(pointer), { recursive: true });
        const target = node_path_1.default.relative(node_path_1.default.dirname(pointer), this.blobPath(etag));
        node_fs_1.default.rmSync(pointer, { force: true });
        try {
            node_fs_1.default.symlinkSync(target, pointer);
        }
        catch {
            node_fs_1.default.copyFileSync(this.blobPath(etag), pointer); // a file system without symlinks: Python copies too
        }
    }
}
exports.RepoCache = RepoCache;
