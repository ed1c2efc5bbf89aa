"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.TrainingAborted = void 0;
exports.train = train;
exports.resolveLengthSlices = resolveLengthSlices;
exports.packsTokens = packsTokens;
// The training loop. Reads top to bottom: set up the stage, then for each optimizer step — accumulate
// gradients over micro-batches, step at the scheduled learning rate, log, evaluate, checkpoint.
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const yaml_1 = __importDefault(require("yaml"));
const rng_1 = require("../data/rng");
const model_1 = require("../model");
const native_1 = require("../native");
const util_1 = require("../util");
const cache_1 = require("./cache");
const checkpoint_1 = require("./checkpoint");
const evaluate_1 = require("./evaluate");
const modelcard_1 = require("./modelcard");
const report_1 = require("./report");
const distributed_1 = require("./distributed");
const plan_1 = require("./plan");
const progress_1 = require("./progress");
const schedule_1 = require("./schedule");
/** train() was stopped by its AbortSignal; `checkpoint` holds the step it stopped at (null: stopped before a step). */
class TrainingAborted extends Error {
    checkpoint;
    step;
    name = 'AbortError';
    constructor(checkpoint, step, reason) {
        super(checkpoint ? `training stopped at step ${step}; checkpoint ${checkpoint} (resume: true continues from it)`
            : 'training stopped before its first step', { cause: reason });
        this.checkpoint = checkpoint;
        this.step = step;
    }
}
exports.TrainingAborted = TrainingAborted;
async function train(config, options = {}) {
    if (options.signal?.aborted)
        throw new TrainingAborted(null, 0, options.signal.reason);
    const device = (0, model_1.resolveDevice)(config.training.device, 'training.device');
    // Data-parallel: one process per rank, joined before the model exists (CUDA ranks bind their GPU first).
    const dp = await distributed_1.DataParallel.start(options.distributed === undefined ? (0, distributed_1.readTorchrunEnv)() : options.distributed, config.training, device);
    const log = dp.isMain ? (options.log ?? ((line) => console.log(line))) : () => { };
    const stages = resolveStages(config);
    const finalDir = config.training.output_dir;
    let model = null;
    try {
        node_fs_1.default.mkdirSync(finalDir, { recursive: true });
        guardOutputDir(stages, options.resume);
        const metricsFile = node_path_1.default.join(finalDir, 'metrics.jsonl');
        if (!options.resume && dp.isMain)
            node_fs_1.default.rmSync(metricsFile, { force: true });
        model = await loadStartingModel(config, device);
        await dp.broadcastParameters(model); // every rank starts from rank 0's weights
        const history = [];
        let finalMetrics = null;
        let globalStep = 0;
        for (const stage of stages) {
            const result = await trainStage(stage, model, { config, options, log, metricsFile, history, device, dp });
            model = result.model;
            finalMetrics = result.finalMetrics ?? finalMetrics;
            globalStep = result.globalStep;
        }
        if (dp.isMain) {
            await model.save(finalDir);
            (0, util_1.writeFileAtomic)(node_path_1.default.join(finalDir, 'rrtrain_config.yaml'), yaml_1.default.stringify(config));
            (0, modelcard_1.writeModelCard)(finalDir, config, stages.map((s) => ({ name: s.name, loss: s.loss, args: s.args, data: s.data })), finalMetrics);
            const report = (0, report_1.writeReport)(finalDir, readHistory(metricsFile), `rrnative training: ${node_path_1.default.basename(finalDir)}`);
            log(`saved the trained model to ${finalDir}${report ? `; curves in ${report}` : ''}`);
        }
        await dp.finish();
        return { outputDir: finalDir, history, finalMetrics, globalStep };
    }
    catch (err) {
        await dp.abandon();
        throw err;
    }
    finally {
        model?.dispose();
    }
}
async function trainStage(stage, model, ctx) {
    const { args, data } = stage;
    const { log, dp } = ctx;
    const outputDir = args.output_dir;
    node_fs_1.default.mkdirSync(outputDir, { recursive: true });
    if (dp.isMain)
        (0, checkpoint_1.removeStaleTemporaries)(outputDir);
    if (args.bf16 && ctx.device !== 'cuda') {
        throw new Error(`training.bf16: bf16 autocast needs a CUDA device, and this run uses ${ctx.device}; set bf16: false`);
    }
    if (args.cuda_graphs)
        checkCudaGraphs(stage.loss, ctx.device, dp.worldSize);
    if (stage.name !== 'main' && node_fs_1.default.existsSync(node_path_1.default.join(outputDir, 'model.safetensors')) && ctx.options.resume) {
        // A finished stage of a resumed run: take its result and move on.
        log(`stage ${stage.name}: already finished, loading ${outputDir}`);
        model.dispose();
        return { model: await model_1.Reranker.load(outputDir, { device: ctx.device }), finalMetrics: null, globalStep: 0 };
    }
    // Data: token ids from the cache, batches planned per epoch from the data RNG.
    if (!data.train)
        throw new Error(`data.train: no training data for stage ${stage.name}`);
    // Rank 0 tokenizes first; the other ranks then find its cache (or, on other machines, build their own).
    const cache = await dp.mainFirst(() => cache_1.TokenCache.open(data.train, model.tokenizer, model.maxLength, data.cache_dir, data.on_bad_record, log));
    const evalSet = data.eval ? await (0, evaluate_1.loadEvalSet)(data.eval, data.on_bad_record) : null;
    try {
        (0, plan_1.checkDataFitsLoss)(cache, stage.loss, data.train_group_size);
        if (args.eval_strategy !== 'no' && !evalSet)
            throw new Error(`training.eval_strategy is '${args.eval_strategy}' but data.eval is not set`);
        const withTeacher = stage.loss === 'margin_mse' || stage.loss === 'distill_mse';
        const globalBatch = args.per_device_train_batch_size * dp.worldSize; // per-device batch per rank, as HF
        const batchesPerEpoch = Math.ceil(cache.recordCount / globalBatch);
        const stepsPerEpoch = Math.ceil(batchesPerEpoch / args.gradient_accumulation_steps);
        const totalSteps = args.max_steps > 0 ? args.max_steps : Math.ceil(stepsPerEpoch * args.num_train_epochs);
        const warmup = (0, schedule_1.warmupSteps)(args, totalSteps);
        const metricName = (args.metric_for_best_model ?? 'mrr@10').replace(/^eval_/, '');
        const greaterIsBetter = args.greater_is_better ?? !metricName.endsWith('loss');
        const evalEvery = args.eval_strategy === 'steps' ? (args.eval_steps ?? args.logging_steps) : args.eval_strategy === 'epoch' ? stepsPerEpoch : 0;
        const saveEvery = args.save_strategy === 'steps' ? args.save_steps : args.save_strategy === 'epoch' ? stepsPerEpoch : 0;
        if (cache.meta.badRecords.skipped > 0) {
            log(`skipped ${cache.meta.badRecords.skipped} bad records, e.g.:\n  ${cache.meta.badRecords.examples.join('\n  ')}`);
        }
        await dp.checkSame('the training records, steps and seed', [cache.recordCount, totalSteps, args.seed]);
        log(`stage ${stage.name}: ${cache.recordCount} records, ${batchesPerEpoch} batches/epoch, ${totalSteps} steps, ` +
            `warmup ${warmup}, loss ${stage.loss}, device ${ctx.device}` +
            (dp.worldSize > 1 ? `, ${dp.describe()} × ${args.per_device_train_batch_size} = batch ${globalBatch}` : ''));
        // State: fresh, or restored from a checkpoint.
        const rng = new rng_1.Rng(args.seed);
        let state = {
            stage: stage.index, globalStep: 0, epoch: 0, batchInEpoch: 0, epochRngState: rng.getState(),
            bestMetric: null, bestCheckpoint: null, evalsWithoutImprovement: 0, worldSize: dp.worldSize,
        };
        await (0, native_1.addon)().manualSeed(args.seed);
        const resumeFrom = findResumeCheckpoint(outputDir, ctx.options.resume, stage.index);
        if (resumeFrom)
            state = (0, checkpoint_1.readTrainerState)(resumeFrom);
        await dp.checkSame('the checkpoint step to resume from (-1: none)', [resumeFrom ? state.globalStep : -1]);
        if (resumeFrom) {
            dp.checkResumable(state, resumeFrom);
            model.dispose();
            model = await model_1.Reranker.load(resumeFrom, { device: ctx.device, maxLength: ctx.config.model.max_length });
            await model.native.loadOptimizer(node_path_1.default.join(resumeFrom, 'optimizer.safetensors'));
            if (dp.isMain)
                truncateMetrics(ctx.metricsFile, stage.index, state.globalStep);
            log(`resumed from ${resumeFrom} (step ${state.globalStep}, epoch ${state.epoch})`);
        }
        rng.setState(state.epochRngState);
        const planOptions = { shuffle: data.shuffle, batchSize: globalBatch, groupSize: data.train_group_size, withTeacher, groupByLength: args.group_by_length };
        let plan = (0, plan_1.planEpoch)(cache, rng, planOptions);
        const progress = new progress_1.Progress(dp.isMain ? (ctx.options.progress ?? 'auto') : 'none', totalSteps, state.globalStep, log);
        let windowLoss = 0, windowSteps = 0, windowPairs = 0, windowStart = Date.now();
        // One process: losses and gradient norms stay on the device until a log line needs them, so steps queue
        // up on the GPU without waiting for each other. Several: each step's loss is averaged over the ranks.
        const deferred = dp.worldSize === 1;
        await model.native.takeTrainStats(); // drop figures a resumed or earlier stage's model kept
        let gradNorm = null;
        // Reads what the device kept (waiting for the GPU) into the window; before every log line, evaluation and
        // checkpoint, so a non-finite loss stops the run before a checkpoint could hold its weights.
        const drainDeferred = async () => {
            if (!deferred)
                return;
            const stats = await model.native.takeTrainStats();
            if (stats.steps === 0)
                return;
            checkFinite(stats.loss ?? NaN, `steps ${state.globalStep - stats.steps + 1}-${state.globalStep}`);
            windowLoss += (stats.loss ?? NaN) * stats.steps;
            windowSteps += stats.steps;
            gradNorm = stats.gradNorm;
        };
        let finalMetrics = null;
        let stop = false;
        while (state.globalStep < totalSteps && !stop) {
            // 1. Accumulate gradients over up to gradient_accumulation_steps micro-batches (not across epochs); with
            //    several ranks, each trains on its shard of every global batch, then the gradients are averaged.
            let stepLoss = 0, micro = 0;
            await dp.seedStep(args.seed, state.globalStep);
            while (micro < args.gradient_accumulation_steps) {
                if (state.batchInEpoch >= plan.length) {
                    if (micro > 0)
                        break;
                    state.epoch += 1;
                    state.batchInEpoch = 0;
                    state.epochRngState = rng.getState();
                    plan = (0, plan_1.planEpoch)(cache, rng, planOptions);
                }
                const batch = plan[state.batchInEpoch++];
                const { shard, share, gradientWeight } = dp.shard(batch);
                if (shard.pairs.length > 0)
                    stepLoss += share * (await trainOnBatch(model, cache, shard, stage.loss, args, gradientWeight, deferred) ?? 0);
                windowPairs += batch.pairs.length;
                micro++;
            }
            stepLoss = await dp.allReduceGradients(model, stepLoss);
            // 2. One optimizer step at the scheduled learning rate.
            const lr = args.learning_rate * (0, schedule_1.lrFactor)(args.lr_scheduler_type, state.globalStep, warmup, totalSteps);
            const optimizerStep = { lr, beta1: args.adam_beta1, beta2: args.adam_beta2, eps: args.adam_epsilon,
                weightDecay: args.weight_decay, maxGradNorm: args.max_grad_norm };
            if (deferred)
                await model.native.optimizerStep({ ...optimizerStep, deferGradNorm: true, cudaGraphs: args.cuda_graphs });
            else
                gradNorm = await model.native.optimizerStep(optimizerStep);
            state.globalStep += 1;
            if (!deferred) {
                const loss = stepLoss / micro;
                checkFinite(loss, `step ${state.globalStep}`);
                windowLoss += loss;
                windowSteps += 1;
            }
            const epoch = state.epoch + state.batchInEpoch / plan.length;
            progress.update(state.globalStep, { loss: deferred ? undefined : stepLoss / micro, lr });
            // 3. Log every logging_steps (first reading what the device kept, also before an eval or a checkpoint).
            const evalNow = evalEvery > 0 && (state.globalStep % evalEvery === 0 || state.globalStep === totalSteps);
            const saveNow = saveEvery > 0 && (state.globalStep % saveEvery === 0 || state.globalStep === totalSteps);
            const logNow = state.globalStep % args.logging_steps === 0 || state.globalStep === totalSteps;
            if (logNow || evalNow || saveNow)
                await drainDeferred();
            if (logNow) {
                const seconds = (Date.now() - windowStart) / 1000;
                const entry = { stage: stage.index, step: state.globalStep, epoch: round(epoch), loss: windowLoss / windowSteps,
                    lr, grad_norm: gradNorm ?? NaN, pairs_per_s: round(windowPairs / Math.max(seconds, 1e-9)) };
                record(ctx, entry);
                progress.show(entry);
                windowLoss = windowSteps = windowPairs = 0;
                windowStart = Date.now();
            }
            // 4. Evaluate, track the best checkpoint, stop early when it stops improving.
            let improved = false;
            if (evalNow && evalSet) {
                const metrics = await dp.evaluate(model, evalSet, args.per_device_eval_batch_size);
                finalMetrics = metrics;
                if (!(metricName in metrics)) {
                    throw new Error(`training.metric_for_best_model: "${metricName}" is not an eval metric (available: ${Object.keys(metrics).join(', ')})`);
                }
                const entry = { stage: stage.index, step: state.globalStep, epoch: round(epoch) };
                for (const [k, v] of Object.entries(metrics))
                    entry[`eval_${k}`] = v;
                record(ctx, entry);
                progress.show(entry);
                const value = metrics[metricName];
                improved = state.bestMetric === null || (greaterIsBetter ? value > state.bestMetric : value < state.bestMetric);
                if (improved) {
                    state.bestMetric = value;
                    state.evalsWithoutImprovement = 0;
                }
                else {
                    state.evalsWithoutImprovement += 1;
                    if (args.early_stopping_patience !== undefined && state.evalsWithoutImprovement >= args.early_stopping_patience) {
                        log(`early stopping: ${metricName} has not improved for ${state.evalsWithoutImprovement} evaluations`);
                        stop = true;
                    }
                }
            }
            // 5. Checkpoint (atomically), then rotate old ones, keeping the best; also when the caller aborts, so the
            //    run can be resumed from this step (every rank stops when rank 0's signal fired).
            const { signal } = ctx.options;
            const aborted = signal ? (dp.worldSize > 1 ? await dp.mainSays(signal.aborted) : signal.aborted) : false;
            const dir = node_path_1.default.join(outputDir, `checkpoint-${state.globalStep}`);
            if (saveNow || (stop && saveEvery > 0) || aborted) {
                if (aborted)
                    await drainDeferred(); // as before any checkpoint: a non-finite loss is never saved
                if (improved)
                    state.bestCheckpoint = dir;
                if (dp.isMain) {
                    await (0, checkpoint_1.writeCheckpoint)(outputDir, model, state);
                    (0, checkpoint_1.rotateCheckpoints)(outputDir, args.save_total_limit, state.bestCheckpoint);
                }
            }
            if (aborted) {
                progress.stop();
                log(`stopped at step ${state.globalStep} (aborted); checkpoint ${dir}`);
                throw new TrainingAborted(dir, state.globalStep, signal?.reason);
            }
        }
        progress.stop();
        const bestCheckpoint = state.bestCheckpoint;
        if (args.load_best_model_at_end && bestCheckpoint && await dp.mainSays(node_fs_1.default.existsSync(bestCheckpoint))) {
            log(`loading the best checkpoint ${bestCheckpoint} (${metricName} = ${state.bestMetric})`);
            if (dp.isMain) {
                model.dispose();
                model = await model_1.Reranker.load(bestCheckpoint, { device: ctx.device, maxLength: ctx.config.model.max_length });
            }
            await dp.broadcastParameters(model); // only rank 0 wrote the checkpoint: the others take its copy
            finalMetrics = evalSet ? await dp.evaluate(model, evalSet, args.per_device_eval_batch_size) : finalMetrics;
        }
        if (stage.name !== 'main' && dp.isMain)
            await model.save(outputDir); // a finished stage, for resumed runs
        return { model, finalMetrics, globalStep: state.globalStep };
    }
    finally {
        cache.close();
    }
}
function checkCudaGraphs(loss, device, worldSize) {
    const why = device !== 'cuda' ? `needs device cuda (this run uses ${device})`
        : !(0, native_1.addon)().runtimeInfo().cudaGraphs ? 'needs rrnative built against a CUDA LibTorch 2.4 or later'
            : worldSize > 1 ? 'is not available in data-parallel runs yet'
                : loss === 'lambda_loss' ? 'cannot capture lambda_loss, whose pair selection waits for the GPU; use another loss'
                    : null;
    if (why)
        throw new Error(`training.cuda_graphs ${why}; set cuda_graphs: false`);
}
function checkFinite(loss, where) {
    if (!Number.isFinite(loss))
        throw new Error(`${where}: the loss is ${loss}; lower training.learning_rate or check the data`);
}
/**
 * training.length_slices for a step. 'auto': 1 where the layers run on packed tokens, attention included (BERT-family
 * float32 models on the CPU: no padding left to save, and each slice adds a forward: 1.15-1.3× faster unsliced on
 * the 2-core machine); 4 for other models on the CPU (DeBERTa: 2.35× faster at debdesc's shape before packing) and
 * in captured CUDA steps (1.55× there, H200); 1 on eager CUDA steps, where each slice adds a forward's kernel
 * launches (unmeasured).
 */
function resolveLengthSlices(setting, device, capturedSteps, packsTokens) {
    if (setting !== 'auto')
        return setting;
    if (device === 'cpu')
        return packsTokens ? 1 : 4;
    return capturedSteps ? 4 : 1;
}
/** Whether the model's layers run on packed tokens, attention included (native/packed_attention.h). */
function packsTokens(model) {
    return model.device === 'cpu' && model.dtype === 'fp32' && model.config.modelType !== 'deberta-v2';
}
// `gradientWeight` scales a rank's gradients so that their average over the ranks is the global batch's (see
// DataParallel.shard). Resolves to the loss, or to null when `deferLoss` keeps it on the device.
async function trainOnBatch(model, cache, batch, loss, args, gradientWeight, deferLoss) {
    const tokens = cache.readBatch(batch.pairs, model.tokenizer.padTokenId);
    const input = { kind: loss, groupSize: batch.groupSize, labels: batch.labels, teacherScores: batch.teacherScores,
        scale: gradientWeight / args.gradient_accumulation_steps, bf16: args.bf16 };
    const lengthSlices = resolveLengthSlices(args.length_slices, model.device, deferLoss && args.cuda_graphs, packsTokens(model));
    return deferLoss ? model.native.trainStep(tokens, { ...input, lengthSlices, deferLoss: true, cudaGraphs: args.cuda_graphs })
        : model.native.trainStep(tokens, { ...input, lengthSlices });
}
// Each stage's data, loss and training arguments: the top-level ones with the stage's overrides.
function resolveStages(config) {
    if (!config.stages) {
        return [{ index: 0, name: 'main', data: config.data, loss: config.loss.name, args: config.training }];
    }
    return config.stages.map((s, i) => {
        const name = s.name ?? `stage${i + 1}`;
        return {
            index: i,
            name,
            data: { ...config.data, ...s.data },
            loss: s.loss?.name ?? config.loss.name,
            args: { ...config.training, ...s.training, output_dir: node_path_1.default.join(config.training.output_dir, `stage-${i + 1}-${name}`) },
        };
    });
}
async function loadStartingModel(config, device) {
    const m = config.model;
    if (m.path) {
        return model_1.Reranker.load(m.path, { device, maxLength: m.max_length, configOverrides: m.config_overrides, seed: config.training.seed, revision: m.revision });
    }
    const hfConfig = typeof m.config === 'string' ? (0, util_1.readJsonFile)(m.config) : m.config;
    return model_1.Reranker.create({ config: hfConfig, tokenizer: m.tokenizer, numLabels: m.num_labels, device, maxLength: m.max_length,
        configOverrides: m.config_overrides, seed: config.training.seed, revision: m.revision });
}
// Never train over an earlier run's checkpoints by accident: that would mix two runs' files.
function guardOutputDir(stages, resume) {
    if (resume)
        return;
    for (const s of stages) {
        const existing = (0, checkpoint_1.listCheckpoints)(s.args.output_dir);
        if (existing.length) {
            throw new Error(`${s.args.output_dir} already holds checkpoints of an earlier run (${node_path_1.default.basename(existing.at(-1).dir)}): ` +
                'pass --resume to continue it, or choose another training.output_dir');
        }
    }
}
function findResumeCheckpoint(outputDir, resume, stage) {
    if (!resume)
        return null;
    if (typeof resume === 'string') {
        const state = (0, checkpoint_1.readTrainerState)(resume);
        return state.stage === stage ? resume : null;
    }
    return (0, checkpoint_1.listCheckpoints)(outputDir).at(-1)?.dir ?? null;
}
function record(ctx, entry) {
    ctx.history.push(entry);
    if (!ctx.dp.isMain)
        return;
    node_fs_1.default.appendFileSync(ctx.metricsFile, JSON.stringify(entry) + '\n');
    ctx.options.onLog?.(entry);
}
// A resumed run rewrites the steps after its checkpoint: drop the killed run's lines for them.
function truncateMetrics(file, stage, step) {
    if (!node_fs_1.default.existsSync(file))
        return;
    const kept = node_fs_1.default.readFileSync(file, 'utf8').split('\n').filter((line) => {
        if (!line.trim())
            return false;
        const e = JSON.parse(line);
        return e.stage < stage || (e.stage === stage && e.step <= step);
    });
    (0, util_1.writeFileAtomic)(file, kept.map((l) => l + '\n').join(''));
}
// The whole run's log, including steps before a resume (the in-memory history starts at the resume point).
function readHistory(file) {
    if (!node_fs_1.default.existsSync(file))
        return [];
    return node_fs_1.default.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}
function round(x) {
    return Math.round(x * 1e4) / 1e4;
}
