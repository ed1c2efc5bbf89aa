"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.writeReport = writeReport;
// report.svg: the training loss and the eval metrics over steps, one panel each, so a run can be judged
// at a glance. Plain SVG (polylines and text): any browser or image viewer shows it.
const node_path_1 = __importDefault(require("node:path"));
const util_1 = require("../util");
const WIDTH = 560, HEIGHT = 220, MARGIN = { left: 60, right: 20, top: 30, bottom: 36 };
/** Writes report.svg in `dir` from the training history; returns its path (null when there is nothing to plot). */
function writeReport(dir, history, title) {
    // Steps restart at each stage: plot against a running step count across stages.
    const offsets = new Map();
    let offset = 0;
    for (const stage of [...new Set(history.map((e) => e.stage))].sort((a, b) => a - b)) {
        offsets.set(stage, offset);
        offset += Math.max(...history.filter((e) => e.stage === stage).map((e) => e.step));
    }
    const x = (e) => e.step + (offsets.get(e.stage) ?? 0);
    const series = [{ title: 'training loss', points: history.filter((e) => 'loss' in e).map((e) => [x(e), e.loss]) }];
    const evalKeys = [...new Set(history.flatMap((e) => Object.keys(e).filter((k) => k.startsWith('eval_'))))]
        .filter((k) => ['eval_mrr@10', 'eval_ndcg@10', 'eval_map', 'eval_recall@10', 'eval_pr_auc'].includes(k));
    for (const key of evalKeys)
        series.push({ title: key.replace(/^eval_/, 'eval '), points: history.filter((e) => key in e).map((e) => [x(e), e[key]]) });
    const panels = series.filter((s) => s.points.length > 0);
    if (panels.length === 0)
        return null;
    const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT * panels.length + 30}" font-family="sans-serif" font-size="11">`,
        `<rect width="100%" height="100%" fill="white"/>`, `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`];
    panels.forEach((s, i) => svg.push(panel(s, 30 + i * HEIGHT)));
    svg.push('</svg>');
    const file = node_path_1.default.join(dir, 'report.svg');
    (0, util_1.writeFileAtomic)(file, svg.join('\n') + '\n');
    return file;
}
function panel(s, top) {
    const xs = s.points.map((p) => p[0]), ys = s.points.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y0 === y1)
        [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const w = WIDTH - MARGIN.left - MARGIN.right, h = HEIGHT - MARGIN.top - MARGIN.bottom;
    const px = (v) => MARGIN.left + (x1 === x0 ? w / 2 : ((v - x0) / (x1 - x0)) * w);
    const py = (v) => top + MARGIN.top + h - ((v - y0) / (y1 - y0)) * h;
    const line = s.points.map(([a, b]) => `${px(a).toFixed(1)},${py(b).toFixed(1)}`).join(' ');
    const ticks = [0, 0.5, 1].map((t) => y0 + t * (y1 - y0));
    return [
        `<text x="${MARGIN.left}" y="${top + 18}" font-size="12">${escape(s.title)}</text>`,
        `<rect x="${MARGIN.left}" y="${top + MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#ccc"/>`,
        ...ticks.map((t) => `<text x="${MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end">${format(t)}</text>`),
        `<text x="${MARGIN.left}" y="${top + HEIGHT - 12}">step ${x0}</text>`,
        `<text x="${MARGIN.left + w}" y="${top + HEIGHT - 12}" text-anchor="end">step ${x1}</text>`,
        s.points.length > 1
            ? `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${line}"/>`
            : `<circle cx="${px(xs[0])}" cy="${py(ys[0])}" r="3" fill="#1f77b4"/>`,
    ].join('\n');
}
function format(v) {
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}
function escape(s) {
    return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
}
