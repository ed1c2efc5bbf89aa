"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.AtomicLineWriter = void 0;
// Streamed, atomic file output: lines go to a temporary file next to the target, which is fsynced and
// renamed over the target on commit, so a crash or an error leaves the old file (or none), never a torn one.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
class AtomicLineWriter {
    file;
    tmp;
    stream;
    failed = null;
    closed = false;
    constructor(file) {
        this.file = file;
        const dir = node_path_1.default.dirname(node_path_1.default.resolve(file));
        if (!node_fs_1.default.existsSync(dir))
            throw new Error(`${file}: the folder ${dir} does not exist`);
        this.tmp = node_path_1.default.join(dir, `.${node_path_1.default.basename(file)}.${process.pid}.tmp`);
        this.stream = node_fs_1.default.createWriteStream(this.tmp);
        this.stream.on('error', (err) => {
            this.failed = err;
        });
    }
    /** Writes text, waiting when the stream's buffer is full. */
    async write(text) {
        if (this.failed)
            throw new Error(`${this.file}: write failed: ${this.failed.message}`);
        if (!this.stream.write(text)) {
            await new Promise((resolve, reject) => {
                const onDrain = () => {
                    this.stream.off('error', onError);
                    resolve();
                };
                const onError = (err) => {
                    this.stream.off('drain', onDrain);
                    reject(new Error(`${this.file}: write failed: ${err.message}`));
                };
                this.stream.once('drain', onDrain);
                this.stream.once('error', onError);
            });
        }
    }
    /** Flushes, fsyncs and renames the temporary file over the target. */
    async commit() {
        if (this.closed)
            return;
        this.closed = true;
        await new Promise((resolve, reject) => this.stream.end((err) => (err ? reject(err) : resolve())));
        if (this.failed)
            throw new Error(`${this.file}: write failed: ${this.failed.message}`);
        const fd = node_fs_1.default.openSync(this.tmp, 'r');
        try {
            node_fs_1.default.fsyncSync(fd);
        }
        finally {
            node_fs_1.default.closeSync(fd);
        }
        node_fs_1.default.renameSync(this.tmp, this.file);
    }
    /** Drops the temporary file (after an error). */
    abort() {
        if (this.closed)
            return;
        this.closed = true;
        this.stream.destroy();
        node_fs_1.default.rmSync(this.tmp, { force: true });
    }
}
exports.AtomicLineWriter = AtomicLineWriter;
