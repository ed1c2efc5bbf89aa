"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.GrowableArray = void 0;
exports.readJsonFile = readJsonFile;
exports.formatZodError = formatZodError;
exports.writeFileAtomic = writeFileAtomic;
exports.fsyncPath = fsyncPath;
// Small helpers shared across src/: JSON files, atomic writes, error text.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
/** Reads a JSON file; a syntax error names the file, line and column. */
function readJsonFile(file) {
    const text = node_fs_1.default.readFileSync(file, 'utf8');
    try {
        return JSON.parse(text);
    }
    catch (err) {
        const message = err.message;
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
function formatZodError(error, source) {
    return error.issues
        .map((issue) => {
        const key = issue.path.length ? issue.path.map(String).join('.') : '(root)';
        return `${source}: ${key}: ${issue.message}`;
    })
        .join('\n');
}
/** Writes a file so that a crash leaves either the old or the new content, never a torn one. */
function writeFileAtomic(file, data) {
    const tmp = node_path_1.default.join(node_path_1.default.dirname(file), `.${node_path_1.default.basename(file)}.${process.pid}.tmp`);
    const fd = node_fs_1.default.openSync(tmp, 'w');
    try {
        node_fs_1.default.writeFileSync(fd, data);
        node_fs_1.default.fsyncSync(fd);
    }
    finally {
        node_fs_1.default.closeSync(fd);
    }
    node_fs_1.default.renameSync(tmp, file);
}
function fsyncPath(p) {
    const fd = node_fs_1.default.openSync(p, 'r');
    try {
        node_fs_1.default.fsyncSync(fd);
    }
    finally {
        node_fs_1.default.closeSync(fd);
    }
}
/** A typed array that grows by doubling, for columns whose length is unknown until the end. */
class GrowableArray {
    Ctor;
    data;
    length = 0;
    constructor(Ctor, capacity = 1024) {
        this.Ctor = Ctor;
        this.data = new Ctor(capacity);
    }
    push(value) {
        if (this.length === this.data.length) {
            const bigger = new this.Ctor(this.data.length * 2);
            bigger.set(this.data);
            this.data = bigger;
        }
        this.data[this.length++] = value;
    }
    /** The filled part's bytes (no copy). */
    bytes() {
        return Buffer.from(this.data.buffer, this.data.byteOffset, this.length * this.data.BYTES_PER_ELEMENT);
    }
}
exports.GrowableArray = GrowableArray;
