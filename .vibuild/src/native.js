"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.addon = addon;
// The whole native surface of the addon, as types. The rest of src/ reaches the addon only through
// this file (as node-llama-cpp does with its AddonTypes). Keep in step with native/bindings.cpp.
const node_path_1 = __importDefault(require("node:path"));
const node_fs_1 = __importDefault(require("node:fs"));
const addon_1 = require("./install/addon");
let cached;
/** The addon, loaded on first use from build/Release (cmake-js's output). */
function addon() {
    if (cached)
        return cached;
    const file = (0, addon_1.addonFile)();
    if (!node_fs_1.default.existsSync(file)) {
        // A development checkout builds with scripts/setup.sh; an installed package with `rrtrain setup`.
        if (node_fs_1.default.existsSync(node_path_1.default.join(addon_1.packageRoot, 'src', 'native.ts'))) {
            throw new Error(`rrnative: the native addon is not built (${file} is missing). Run \`npm run setup\` in ${addon_1.packageRoot}.`);
        }
        throw new Error((0, addon_1.setupHelp)(`${file} is missing`));
    }
    // OpenBLAS's idle threads spin for 2^28 cycles (about 0.1 s) after each matrix product before they sleep, so
    // between products they hold the cores that the packed attention kernel's threads need (native/
    // packed_attention.h): on the 2-core machine its two threads ran no faster than one (MiniLM scoring: 1.35 s of
    // attention, 0.70 s with a 2^10-cycle spin; the products' time unchanged). OpenBLAS reads this as it loads,
    // with the addon; a value already set is kept.
    if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined)
        process.env.OPENBLAS_THREAD_TIMEOUT = '10';
    cached = require(file);
    const loaded = cached;
    process.once('exit', () => loaded.stopForExit());
    return cached;
}
