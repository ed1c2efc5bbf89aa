"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.packageRoot = void 0;
exports.addonFile = addonFile;
exports.setupHelp = setupHelp;
exports.findLibTorch = findLibTorch;
exports.missingTools = missingTools;
exports.buildKey = buildKey;
exports.buildCacheDir = buildCacheDir;
exports.storeInCache = storeInCache;
exports.buildAddon = buildAddon;
// Building the native addon where rrnative is installed: at `npm install rrnative` (scripts/install.js) and by
// `rrtrain setup`. LibTorch is looked for in the order CMakeLists.txt uses ($LIBTORCH, python3's torch, the
// system's libtorch-dev); a finished addon is kept in a build cache keyed by everything that goes into it, so a
// second install of the same sources against the same LibTorch copies it instead of compiling for minutes.
const node_child_process_1 = require("node:child_process");
const node_crypto_1 = __importDefault(require("node:crypto"));
const node_fs_1 = __importDefault(require("node:fs"));
const node_os_1 = __importDefault(require("node:os"));
const node_path_1 = __importDefault(require("node:path"));
/** The package's root: the folder with package.json, native/ and CMakeLists.txt. */
exports.packageRoot = node_path_1.default.resolve(__dirname, '..', '..', '..');
function addonFile(root = exports.packageRoot) {
    return node_path_1.default.join(root, 'build', 'Release', 'rrnative.node');
}
/** One paragraph: what is missing and the three ways to get a LibTorch. Printed at install; thrown by addon(). */
function setupHelp(what = 'no LibTorch was found') {
    return `rrnative: the native addon is not built: ${what}. rrnative runs on LibTorch, found in this order: ` +
        '(1) LIBTORCH=/path/to/libtorch (an unpacked libtorch zip from pytorch.org); (2) the torch package of python3 ' +
        '(`pip install torch`); (3) the system\'s LibTorch (Debian/Ubuntu: `apt-get install libtorch-dev ' +
        'libopenblas0-pthread libgloo-dev cmake g++`). Then run `npx rrtrain setup`, which builds the addon (about ' +
        '4 minutes on 2 cores; it installs (3) with apt itself when it finds no LibTorch and apt-get is there).';
}
const versionFiles = (dir) => ['share/cmake/Torch', 'lib/cmake/Torch', 'cmake/Torch', '.']
    .map((sub) => node_path_1.default.join(dir, sub, 'TorchConfigVersion.cmake'));
/** The LibTorch the addon would build against, or null. A LIBTORCH naming no LibTorch is an error, not a skip. */
function findLibTorch(env = process.env) {
    if (env.LIBTORCH) {
        const versionFile = versionFiles(env.LIBTORCH).find((f) => node_fs_1.default.existsSync(f));
        if (!versionFile)
            throw new Error(`LIBTORCH=${env.LIBTORCH}: no LibTorch there (no share/cmake/Torch/TorchConfigVersion.cmake)`);
        return { source: 'LIBTORCH', prefix: env.LIBTORCH, versionFile };
    }
    const python = (0, node_child_process_1.spawnSync)('python3', ['-c', 'import torch; print(torch.utils.cmake_prefix_path)'], { encoding: 'utf8', env });
    if (python.status === 0 && python.stdout.trim()) {
        const prefix = python.stdout.trim();
        const versionFile = node_path_1.default.join(prefix, 'Torch', 'TorchConfigVersion.cmake');
        if (node_fs_1.default.existsSync(versionFile))
            return { source: 'python3', prefix, versionFile };
    }
    const libDirs = ['/usr/local/lib', ...listDirs('/usr/lib').map((d) => node_path_1.default.join('/usr/lib', d))];
    for (const dir of libDirs) {
        const versionFile = node_path_1.default.join(dir, 'cmake', 'Torch', 'TorchConfigVersion.cmake');
        if (node_fs_1.default.existsSync(versionFile))
            return { source: 'system', prefix: node_path_1.default.join(dir, 'cmake'), versionFile };
    }
    return null;
}
function listDirs(dir) {
    try {
        return node_fs_1.default.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    }
    catch {
        return [];
    }
}
/** The build tools that are not on PATH (cmake-js needs CMake and a C++ compiler). */
function missingTools() {
    const missing = [];
    if ((0, node_child_process_1.spawnSync)('cmake', ['--version']).status !== 0)
        missing.push('cmake');
    if ((0, node_child_process_1.spawnSync)('c++', ['--version']).status !== 0 && (0, node_child_process_1.spawnSync)('g++', ['--version']).status !== 0)
        missing.push('a C++ compiler (g++)');
    return missing;
}
/**
 * The build cache key: the addon's sources (native/, CMakeLists.txt), the node-addon-api version, the LibTorch
 * (its prefix and version file), the compiler, the platform. Node's own version is not in it: the addon uses
 * Node-API 8, whose binary interface every Node >= 20 keeps.
 */
function buildKey(root, torch) {
    const hash = node_crypto_1.default.createHash('sha256');
    const add = (label, value) => hash.update(`${label}\0`).update(value).update('\0');
    for (const file of sourceFiles(root))
        add(node_path_1.default.relative(root, file), node_fs_1.default.readFileSync(file));
    add('node-addon-api', packageVersion(root, 'node-addon-api'));
    add('torch', `${torch.prefix}\0${node_fs_1.default.readFileSync(torch.versionFile, 'utf8')}`);
    const compiler = (0, node_child_process_1.spawnSync)('c++', ['--version'], { encoding: 'utf8' });
    add('compiler', compiler.status === 0 ? compiler.stdout.split('\n')[0] : 'unknown');
    add('platform', `${process.platform}-${process.arch}`);
    return hash.digest('hex').slice(0, 24);
}
function sourceFiles(root) {
    const out = [node_path_1.default.join(root, 'CMakeLists.txt')];
    const walk = (dir) => {
        for (const entry of node_fs_1.default.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const full = node_path_1.default.join(dir, entry.name);
            if (entry.isDirectory())
                walk(full);
            else
                out.push(full);
        }
    };
    walk(node_path_1.default.join(root, 'native'));
    return out;
}
function packageVersion(root, name) {
    try {
        return JSON.parse(node_fs_1.default.readFileSync(require.resolve(`${name}/package.json`, { paths: [root] }), 'utf8')).version;
    }
    catch {
        return 'missing';
    }
}
/** $RRNATIVE_BUILD_CACHE, else $XDG_CACHE_HOME/rrnative/addon, else ~/.cache/rrnative/addon. */
function buildCacheDir(env = process.env) {
    if (env.RRNATIVE_BUILD_CACHE)
        return env.RRNATIVE_BUILD_CACHE;
    return node_path_1.default.join(env.XDG_CACHE_HOME || node_path_1.default.join(node_os_1.default.homedir(), '.cache'), 'rrnative', 'addon');
}
/** Keeps a built addon in the cache under `key` (written to a temporary name, then renamed: never half a file). */
function storeInCache(file, key, env = process.env) {
    const dir = node_path_1.default.join(buildCacheDir(env), key);
    node_fs_1.default.mkdirSync(dir, { recursive: true });
    const target = node_path_1.default.join(dir, 'rrnative.node');
    const temporary = `${target}.${process.pid}.tmp`;
    node_fs_1.default.copyFileSync(file, temporary);
    node_fs_1.default.renameSync(temporary, target);
    return target;
}
/**
 * Builds build/Release/rrnative.node under `root` (or copies it from the build cache). Resolves to 'skipped', with
 * setupHelp()'s paragraph as the reason, where no LibTorch or no build tools are found; rejects when the compiler
 * fails, with the end of its output.
 */
async function buildAddon(root = exports.packageRoot, options = {}) {
    const env = options.env ?? process.env;
    const log = options.log ?? ((line) => console.log(line));
    let torch;
    try {
        torch = findLibTorch(env);
    }
    catch (err) {
        return { status: 'skipped', reason: setupHelp(err.message) };
    }
    if (!torch)
        return { status: 'skipped', reason: setupHelp() };
    const tools = missingTools();
    if (tools.length)
        return { status: 'skipped', reason: setupHelp(`${tools.join(' and ')} ${tools.length > 1 ? 'are' : 'is'} not installed`) };
    const started = Date.now();
    const useCache = (options.cache ?? true) && env.RRNATIVE_BUILD_CACHE !== 'off';
    const key = buildKey(root, torch);
    const target = addonFile(root);
    const cached = node_path_1.default.join(buildCacheDir(env), key, 'rrnative.node');
    if (useCache && node_fs_1.default.existsSync(cached)) {
        node_fs_1.default.mkdirSync(node_path_1.default.dirname(target), { recursive: true });
        node_fs_1.default.copyFileSync(cached, target);
        log(`rrnative: the native addon for LibTorch at ${torch.prefix} (${torch.source}) taken from the build cache (${cached})`);
        return { status: 'cached', torch, seconds: (Date.now() - started) / 1000, key };
    }
    log(`rrnative: building the native addon against LibTorch at ${torch.prefix} (${torch.source}); this takes minutes`);
    const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
    const logFile = node_path_1.default.join(root, 'build', 'rrnative-build.log');
    node_fs_1.default.mkdirSync(node_path_1.default.dirname(logFile), { recursive: true });
    const code = await new Promise((resolve, reject) => {
        const out = node_fs_1.default.openSync(logFile, 'w');
        const child = (0, node_child_process_1.spawn)(process.execPath, [cmakeJs, 'compile', '--directory', root, '--out', node_path_1.default.join(root, 'build'), '--config', 'Release'], { cwd: root, env, stdio: ['ignore', out, out] });
        child.on('error', reject);
        child.on('exit', (status, signal) => {
            node_fs_1.default.closeSync(out);
            resolve(status ?? (signal ? 128 : 1));
        });
    });
    if (code !== 0 || !node_fs_1.default.existsSync(target)) {
        const tail = node_fs_1.default.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
        throw new Error(`building the native addon failed (cmake-js exited with ${code}); the last lines of ${logFile}:\n${tail}`);
    }
    if (useCache) {
        try {
            storeInCache(target, key, env);
        }
        catch (err) { // a read-only or full cache folder costs the next install a build, nothing more
            log(`rrnative: the build cache at ${buildCacheDir(env)} could not be written (${err.message}); the addon itself is built`);
        }
    }
    const seconds = (Date.now() - started) / 1000;
    log(`rrnative: built ${target} in ${Math.round(seconds)} s`);
    return { status: 'built', torch, seconds, key };
}
