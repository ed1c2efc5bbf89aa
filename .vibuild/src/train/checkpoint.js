"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.checkpointDir = checkpointDir;
exports.writeCheckpoint = writeCheckpoint;
exports.listCheckpoints = listCheckpoints;
exports.rotateCheckpoints = rotateCheckpoints;
exports.readTrainerState = readTrainerState;
exports.removeStaleTemporaries = removeStaleTemporaries;
// Checkpoints: a Hugging Face model folder plus optimizer state (moments, step, torch RNG) and trainer state
// (schedule step, epoch, data position, data RNG, best metric), written atomically and rotated.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const util_1 = require("../util");
const PREFIX = 'checkpoint-';
function checkpointDir(outputDir, step) {
    return node_path_1.default.join(outputDir, `${PREFIX}${step}`);
}
async function writeCheckpoint(outputDir, model, state) {
    const final = checkpointDir(outputDir, state.globalStep);
    const tmp = node_path_1.default.join(outputDir, `.${PREFIX}${state.globalStep}.tmp-${process.pid}`);
    node_fs_1.default.rmSync(tmp, { recursive: true, force: true });
    node_fs_1.default.mkdirSync(tmp, { recursive: true });
    await model.save(tmp);
    const optimizerFile = node_path_1.default.join(tmp, 'optimizer.safetensors');
    await model.native.saveOptimizer(optimizerFile);
    (0, util_1.fsyncPath)(optimizerFile);
    (0, util_1.writeFileAtomic)(node_path_1.default.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2));
    (0, util_1.fsyncPath)(tmp);
    node_fs_1.default.rmSync(final, { recursive: true, force: true });
    node_fs_1.default.renameSync(tmp, final);
    (0, util_1.fsyncPath)(outputDir);
    return final;
}
/** Finished checkpoints in a folder, oldest first. */
function listCheckpoints(outputDir) {
    if (!node_fs_1.default.existsSync(outputDir))
        return [];
    return node_fs_1.default.readdirSync(outputDir)
        .filter((name) => name.startsWith(PREFIX) && /^\d+$/.test(name.slice(PREFIX.length)))
        .map((name) => ({ step: Number(name.slice(PREFIX.length)), dir: node_path_1.default.join(outputDir, name) }))
        .filter((c) => node_fs_1.default.existsSync(node_path_1.default.join(c.dir, 'trainer_state.json')))
        .sort((a, b) => a.step - b.step);
}
/** Deletes the oldest checkpoints beyond `limit`, never the best one. */
function rotateCheckpoints(outputDir, limit, best) {
    if (limit === undefined)
        return;
    const all = listCheckpoints(outputDir);
    let excess = all.length - limit;
    for (const c of all) {
        if (excess <= 0)
            break;
        if (best && node_path_1.default.resolve(c.dir) === node_path_1.default.resolve(best))
            continue;
        node_fs_1.default.rmSync(c.dir, { recursive: true, force: true });
        excess--;
    }
}
function readTrainerState(dir) {
    const file = node_path_1.default.join(dir, 'trainer_state.json');
    if (!node_fs_1.default.existsSync(file))
        throw new Error(`${dir}: not a checkpoint (no trainer_state.json)`);
    return JSON.parse(node_fs_1.default.readFileSync(file, 'utf8'));
}
/** Removes half-written checkpoints a killed run left behind. */
function removeStaleTemporaries(outputDir) {
    if (!node_fs_1.default.existsSync(outputDir))
        return;
    for (const name of node_fs_1.default.readdirSync(outputDir)) {
        if (name.startsWith(`.${PREFIX}`) && name.includes('.tmp-'))
            node_fs_1.default.rmSync(node_path_1.default.join(outputDir, name), { recursive: true, force: true });
    }
}
