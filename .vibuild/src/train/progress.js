"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.Progress = void 0;
exports.formatEntry = formatEntry;
// Training progress: a bar (step, loss, lr, pairs/s, ETA) on a terminal, plain log lines otherwise.
const cli_progress_1 = __importDefault(require("cli-progress"));
class Progress {
    print;
    bar;
    constructor(mode, total, start, print) {
        this.print = print;
        const useBar = mode === 'bar' || (mode === 'auto' && Boolean(process.stderr.isTTY));
        this.quiet = mode === 'none';
        this.bar = useBar
            ? new cli_progress_1.default.SingleBar({
                format: 'step {value}/{total} |{bar}| loss {loss} | lr {lr} | {pairs} pairs/s | ETA {eta_formatted}',
                stream: process.stderr, hideCursor: true, etaBuffer: 50,
            }, cli_progress_1.default.Presets.shades_classic)
            : null;
        this.bar?.start(total, start, { loss: '-', lr: '-', pairs: '-' });
    }
    quiet;
    /** Each step; `loss` only where the step read it (single-process runs read it every logging_steps). */
    update(step, values) {
        this.bar?.update(step, { ...(values.loss === undefined ? {} : { loss: values.loss.toFixed(4) }), lr: values.lr.toExponential(2) });
    }
    /** A logged entry: shown in the bar's fields, or printed as a line. */
    show(entry) {
        if (this.quiet)
            return;
        if (this.bar) {
            if ('pairs_per_s' in entry)
                this.bar.update({ pairs: entry.pairs_per_s.toFixed(1), loss: entry.loss.toFixed(4) });
            if (Object.keys(entry).some((k) => k.startsWith('eval_'))) {
                this.bar.stop();
                this.print(formatEntry(entry));
                this.bar.start(this.bar.getTotal(), entry.step);
            }
            return;
        }
        this.print(formatEntry(entry));
    }
    stop() {
        this.bar?.stop();
    }
}
exports.Progress = Progress;
function formatEntry(entry) {
    const parts = Object.entries(entry)
        .filter(([k]) => k !== 'stage')
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(3) : v.toFixed(4)}`);
    return parts.join(' | ');
}
