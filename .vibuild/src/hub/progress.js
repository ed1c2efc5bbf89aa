"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.DownloadProgress = void 0;
// Download progress: a bar per file on a terminal (stderr), plain lines elsewhere (files of 1 MB and more, and a
// summary), as huggingface_hub's tqdm bars and their log lines.
const node_fs_1 = __importDefault(require("node:fs"));
const node_events_1 = require("node:events");
const node_stream_1 = require("node:stream");
const cli_progress_1 = __importDefault(require("cli-progress"));
const MB = 1e6;
class DownloadProgress {
    label;
    log;
    files = 0;
    bytes = 0;
    started = Date.now();
    tty = Boolean(process.stderr.isTTY);
    constructor(label, log) {
        this.label = label;
        this.log = log;
    }
    /** Streams `body` into `file` (appending from `start`), showing the progress of `path` (`total` bytes). */
    async write(path, total, start, body, file) {
        const bar = this.tty && total >= MB ? new cli_progress_1.default.SingleBar({
            format: `${this.label} ${path} |{bar}| {percentage}% {value_mb}/{total_mb} MB {speed} MB/s`, stream: process.stderr, hideCursor: true,
        }, cli_progress_1.default.Presets.shades_classic) : null;
        if (!bar && total >= MB)
            this.log(`downloading ${this.label} ${path} (${(total / MB).toFixed(1)} MB${start ? `, resuming at ${(start / MB).toFixed(1)} MB` : ''})`);
        const t0 = Date.now();
        let done = start;
        bar?.start(total, start, { value_mb: (start / MB).toFixed(1), total_mb: (total / MB).toFixed(1), speed: '-' });
        const out = node_fs_1.default.createWriteStream(file, { flags: start > 0 ? 'a' : 'w' });
        try {
            for await (const chunk of node_stream_1.Readable.fromWeb(body)) {
                done += chunk.length;
                bar?.update(done, { value_mb: (done / MB).toFixed(1), speed: ((done - start) / MB / Math.max((Date.now() - t0) / 1000, 1e-3)).toFixed(1) });
                if (!out.write(chunk))
                    await (0, node_events_1.once)(out, 'drain');
            }
        }
        finally {
            // What arrived is kept, also when the download broke off: the next one resumes from there.
            await new Promise((resolve, reject) => { out.once('error', reject); out.end(resolve); });
            bar?.stop();
        }
        this.files += 1;
        this.bytes += done - start;
    }
    finish(folder) {
        if (this.files === 0)
            return;
        this.log(`${this.label}: ${this.files} file${this.files > 1 ? 's' : ''}, ${(this.bytes / MB).toFixed(1)} MB downloaded in ` +
            `${((Date.now() - this.started) / 1000).toFixed(1)} s into ${folder}`);
    }
}
exports.DownloadProgress = DownloadProgress;
