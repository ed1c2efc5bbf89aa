"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.DataParallel = void 0;
exports.readTorchrunEnv = readTorchrunEnv;
exports.freePort = freePort;
// Data-parallel training (torch.distributed): which rank this process is, from torchrun's environment, and
// the trainer's view of the job. Every rank plans the same global batches of N × per_device_train_batch_size
// records and trains on its shard; averaged gradients then make N ranks step exactly as one process would
// on the whole global batch. Rank 0 alone writes files and logs.
//
// A single process gets the same interface with nothing to do, so the training loop reads the same either way.
const node_net_1 = __importDefault(require("node:net"));
const native_1 = require("../native");
const evaluate_1 = require("./evaluate");
/** The job described by torchrun's environment variables, or null when WORLD_SIZE is unset (a single process). */
function readTorchrunEnv(env = process.env) {
    if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '')
        return null;
    const integer = (name, min, max = Number.MAX_SAFE_INTEGER) => {
        const text = env[name];
        if (text === undefined || text === '') {
            throw new Error(`WORLD_SIZE=${env.WORLD_SIZE} is set but ${name} is not: start every worker with RANK, WORLD_SIZE, ` +
                'MASTER_ADDR and MASTER_PORT (as torchrun does), or use --nproc N on one machine');
        }
        const value = Number(text);
        if (!Number.isInteger(value) || value < min || value > max)
            throw new Error(`${name}=${text}: expected an integer in ${min}…${max}`);
        return value;
    };
    const worldSize = integer('WORLD_SIZE', 1);
    const rank = integer('RANK', 0, worldSize - 1);
    const masterPort = integer('MASTER_PORT', 1, 65535);
    if (!env.MASTER_ADDR)
        throw new Error(`WORLD_SIZE=${worldSize} is set but MASTER_ADDR is not: give rank 0's address (127.0.0.1 on one machine)`);
    const localRank = env.LOCAL_RANK === undefined || env.LOCAL_RANK === '' ? rank : integer('LOCAL_RANK', 0);
    return { rank, worldSize, localRank, masterAddr: env.MASTER_ADDR, masterPort };
}
class DataParallel {
    group;
    rank;
    worldSize;
    constructor(group, rank, worldSize) {
        this.group = group;
        this.rank = rank;
        this.worldSize = worldSize;
    }
    /** Joins the job (a rendezvous at MASTER_ADDR:MASTER_PORT, up to training.ddp_timeout), or a single process. */
    static async start(env, args, device) {
        if (!env || env.worldSize === 1)
            return new DataParallel(null, 0, 1);
        const backends = (0, native_1.addon)().distributedBackends();
        if (backends.length === 0) {
            throw new Error('this build of rrnative has no torch.distributed support (install libgloo-dev and rebuild)');
        }
        // HF's default: NCCL on CUDA, Gloo on CPU.
        const backend = args.ddp_backend ?? (device === 'cuda' && backends.includes('nccl') ? 'nccl' : 'gloo');
        if (!backends.includes(backend)) {
            throw new Error(`training.ddp_backend: this build of rrnative has no ${backend} (it has ${backends.join(', ')})`);
        }
        const group = await (0, native_1.addon)().initProcessGroup({ ...env, backend, timeoutSeconds: args.ddp_timeout, device });
        return new DataParallel(group, env.rank, env.worldSize);
    }
    /** Rank 0 (or the single process): the one that writes checkpoints, metrics, the model and logs. */
    get isMain() {
        return this.rank === 0;
    }
    describe() {
        return this.group ? `${this.worldSize} ranks (${this.group.backend})` : '1 process';
    }
    /**
     * This rank's part of a global batch: records rank, rank + N, rank + 2N, … (as torch's DistributedSampler),
     * and `share`, its part of the batch's records. A rank's mean loss weighs `share` in the global mean, and its
     * gradients are scaled by share × N before the all-reduce averages them: exactly the global batch's mean, even
     * when the last batch of an epoch does not split evenly.
     */
    shard(batch) {
        if (!this.group)
            return { shard: batch, share: 1, gradientWeight: 1 };
        const records = batch.pairs.length / batch.groupSize;
        const rows = [];
        for (let record = this.rank; record < records; record += this.worldSize) {
            for (let k = 0; k < batch.groupSize; k++)
                rows.push(record * batch.groupSize + k);
        }
        const shard = {
            pairs: rows.map((i) => batch.pairs[i]),
            labels: Float32Array.from(rows, (i) => batch.labels[i]),
            teacherScores: batch.teacherScores ? Float32Array.from(rows, (i) => batch.teacherScores[i]) : null,
            groupSize: batch.groupSize,
        };
        const shardRecords = rows.length / batch.groupSize;
        return { shard, share: shardRecords / records, gradientWeight: (shardRecords * this.worldSize) / records };
    }
    /**
     * Distinct dropout masks per rank, reproducible after a resume: each step reseeds torch's generator from
     * (seed, step, rank). A single process keeps its one seeded stream (and its checkpointed RNG state).
     */
    async seedStep(seed, step) {
        if (this.group)
            await (0, native_1.addon)().manualSeed(seed + step * this.worldSize + this.rank);
    }
    /** Every rank takes rank 0's parameters. */
    async broadcastParameters(model) {
        if (this.group)
            await this.group.broadcastParameters(model.native);
    }
    /** Averages the gradients over the ranks; returns `localLoss` summed over the ranks (the global batch's loss). */
    async allReduceGradients(model, localLoss) {
        if (!this.group)
            return localLoss;
        const [loss] = await this.group.allReduceGradients(model.native, Float64Array.of(localLoss));
        return loss;
    }
    /** Rank 0 runs `work` first (e.g. tokenizing into the shared cache), then the others. */
    async mainFirst(work) {
        if (!this.group)
            return work();
        if (this.isMain) {
            const result = await work();
            await this.group.barrier();
            return result;
        }
        await this.group.barrier();
        return work();
    }
    /** Rank 0's answer, on every rank (for decisions that read rank 0's disk). */
    async mainSays(answer) {
        if (!this.group)
            return answer;
        const [sum] = await this.group.allReduce(Float64Array.of(this.isMain && answer ? 1 : 0), 'sum');
        return sum > 0;
    }
    /** Fails on every rank, naming the ranks that differ, unless all ranks have the same `values`. */
    async checkSame(what, values) {
        if (!this.group)
            return;
        const all = await this.group.allGather(Float64Array.from(values));
        const ofRank = (r) => Array.from(all.subarray(r * values.length, (r + 1) * values.length));
        const differing = Array.from({ length: this.worldSize }, (_, r) => r).filter((r) => ofRank(r).join() !== ofRank(0).join());
        if (differing.length) {
            throw new Error(`the ranks disagree on ${what}: rank 0 has [${ofRank(0).join(', ')}], ` +
                differing.map((r) => `rank ${r} [${ofRank(r).join(', ')}]`).join(', ') +
                '; every rank must run the same config on the same data (and resume from the same output_dir)');
        }
    }
    /** A checkpoint's batches were planned for its world size: resuming it takes as many ranks. */
    checkResumable(state, checkpoint) {
        const written = state.worldSize ?? 1;
        if (written !== this.worldSize) {
            throw new Error(`${checkpoint} was written by a job of ${written} rank${written === 1 ? '' : 's'}, and this job has ${this.worldSize}: ` +
                `resume it with the same number (${written === 1 ? 'without --nproc' : `--nproc ${written}, or WORLD_SIZE=${written}`}), ` +
                'since its global batches depend on it');
        }
    }
    /** Evaluation with the pairs split across the ranks; every rank gets the metrics of the whole set. */
    async evaluate(model, queries, batchSize) {
        if (!this.group)
            return (0, evaluate_1.evaluate)(model, queries, batchSize);
        const pairs = (0, evaluate_1.evalPairs)(queries);
        const perRank = Math.ceil(pairs.length / this.worldSize);
        const start = Math.min(this.rank * perRank, pairs.length), end = Math.min(start + perRank, pairs.length);
        const scores = new Float64Array(pairs.length);
        if (end > start)
            scores.set(await model.score(pairs.slice(start, end), { batchSize }), start);
        // Each rank fills its own slice and leaves zeros elsewhere: the sum is every rank's scores.
        const all = await this.group.allReduce(scores, 'sum');
        return (0, evaluate_1.metricsFromScores)(queries, Array.from(all));
    }
    /** The end of a successful run: waits for every rank (rank 0 may still be writing), then leaves the group. */
    async finish() {
        if (!this.group)
            return;
        await this.group.barrier();
        await this.group.destroy();
    }
    /** After an error: leaves the group without waiting for the others (they fail on their next collective). */
    async abandon() {
        await this.group?.destroy().catch(() => { });
    }
}
exports.DataParallel = DataParallel;
/** A TCP port that is free on loopback right now (for MASTER_PORT of local jobs). */
async function freePort() {
    return new Promise((resolve, reject) => {
        const server = node_net_1.default.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}
