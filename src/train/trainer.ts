// The training loop. Reads top to bottom: set up the stage, then for each optimizer step — accumulate
// gradients over micro-batches, step at the scheduled learning rate, log, evaluate, checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { DataConfig, LossName, RunConfig, TrainingArgs } from '../config/schema';
import { Rng } from '../data/rng';
import { Reranker, resolveDevice } from '../model';
import { addon } from '../native';
import { readJsonFile, writeFileAtomic } from '../util';
import { TokenCache } from './cache';
import {
  listCheckpoints, readTrainerState, removeStaleTemporaries, rotateCheckpoints, writeCheckpoint, type TrainerState,
} from './checkpoint';
import { loadEvalSet, type EvalMetrics } from './evaluate';
import { writeModelCard } from './modelcard';
import { writeReport } from './report';
import { DataParallel, readTorchrunEnv, type RankEnv } from './distributed';
import { checkDataFitsLoss, planEpoch, type PlannedBatch } from './plan';
import { Progress } from './progress';
import { lrFactor, warmupSteps } from './schedule';

export interface TrainOptions {
  /** Continue from the latest checkpoint in output_dir (true) or from a given checkpoint folder. */
  resume?: boolean | string;
  log?: (line: string) => void;
  /** 'auto': a progress bar on a TTY, periodic log lines otherwise. */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  /** This process's rank in a data-parallel job; default: from torchrun's variables (RANK, WORLD_SIZE, …), else none. */
  distributed?: RankEnv | null;
  /** Each logged entry (training every logging_steps, evaluations), as it is appended to metrics.jsonl (rank 0). */
  onLog?: (entry: LogEntry) => void;
  /**
   * Stops the run at the next optimizer-step boundary: a checkpoint of that step is written (resume from it with
   * `resume: true`) and train() rejects with a TrainingAborted error naming it. In a data-parallel job give it to
   * every rank or to none (rank 0's decides, through one collective per step).
   */
  signal?: AbortSignal;
}

/** train() was stopped by its AbortSignal; `checkpoint` holds the step it stopped at (null: stopped before a step). */
export class TrainingAborted extends Error {
  override name = 'AbortError';
  constructor(readonly checkpoint: string | null, readonly step: number, reason: unknown) {
    super(checkpoint ? `training stopped at step ${step}; checkpoint ${checkpoint} (resume: true continues from it)`
      : 'training stopped before its first step', { cause: reason });
  }
}

export interface LogEntry {
  stage: number;
  step: number;
  epoch: number;
  [key: string]: number;
}

export interface TrainResult {
  outputDir: string;
  history: LogEntry[];
  finalMetrics: EvalMetrics | null;
  globalStep: number;
}

interface Stage {
  index: number;
  name: string;
  data: DataConfig;
  loss: LossName;
  args: TrainingArgs;
}

export async function train(config: RunConfig, options: TrainOptions = {}): Promise<TrainResult> {
  if (options.signal?.aborted) throw new TrainingAborted(null, 0, options.signal.reason);
  const device = resolveDevice(config.training.device, 'training.device');
  // Data-parallel: one process per rank, joined before the model exists (CUDA ranks bind their GPU first).
  const dp = await DataParallel.start(options.distributed === undefined ? readTorchrunEnv() : options.distributed, config.training, device);
  const log = dp.isMain ? (options.log ?? ((line: string) => console.log(line))) : () => {};
  const stages = resolveStages(config);
  const finalDir = config.training.output_dir;
  let model: Reranker | null = null;
  try {
    fs.mkdirSync(finalDir, { recursive: true });
    guardOutputDir(stages, options.resume);
    const metricsFile = path.join(finalDir, 'metrics.jsonl');
    if (!options.resume && dp.isMain) fs.rmSync(metricsFile, { force: true });

    model = await loadStartingModel(config, device);
    await dp.broadcastParameters(model);  // every rank starts from rank 0's weights
    const history: LogEntry[] = [];
    let finalMetrics: EvalMetrics | null = null;
    let globalStep = 0;
    for (const stage of stages) {
      const result = await trainStage(stage, model, { config, options, log, metricsFile, history, device, dp });
      model = result.model;
      finalMetrics = result.finalMetrics ?? finalMetrics;
      globalStep = result.globalStep;
    }
    if (dp.isMain) {
      await model.save(finalDir);
      writeFileAtomic(path.join(finalDir, 'rrtrain_config.yaml'), YAML.stringify(config));
      writeModelCard(finalDir, config, stages.map((s) => ({ name: s.name, loss: s.loss, args: s.args, data: s.data })), finalMetrics);
      const report = writeReport(finalDir, readHistory(metricsFile), `rrnative training: ${path.basename(finalDir)}`);
      log(`saved the trained model to ${finalDir}${report ? `; curves in ${report}` : ''}`);
    }
    await dp.finish();
    return { outputDir: finalDir, history, finalMetrics, globalStep };
  } catch (err) {
    await dp.abandon();
    throw err;
  } finally {
    model?.dispose();
  }
}

interface StageContext {
  config: RunConfig;
  options: TrainOptions;
  log: (line: string) => void;
  metricsFile: string;
  history: LogEntry[];
  device: 'cpu' | 'cuda';
  dp: DataParallel;
}

async function trainStage(stage: Stage, model: Reranker, ctx: StageContext): Promise<{ model: Reranker; finalMetrics: EvalMetrics | null; globalStep: number }> {
  const { args, data } = stage;
  const { log, dp } = ctx;
  const outputDir = args.output_dir;
  fs.mkdirSync(outputDir, { recursive: true });
  if (dp.isMain) removeStaleTemporaries(outputDir);
  if (args.bf16 && ctx.device !== 'cuda') {
    throw new Error(`training.bf16: bf16 autocast needs a CUDA device, and this run uses ${ctx.device}; set bf16: false`);
  }
  if (args.cuda_graphs) checkCudaGraphs(stage.loss, ctx.device, dp.worldSize);
  if (stage.name !== 'main' && fs.existsSync(path.join(outputDir, 'model.safetensors')) && ctx.options.resume) {
    // A finished stage of a resumed run: take its result and move on.
    log(`stage ${stage.name}: already finished, loading ${outputDir}`);
    model.dispose();
    return { model: await Reranker.load(outputDir, { device: ctx.device }), finalMetrics: null, globalStep: 0 };
  }

  // Data: token ids from the cache, batches planned per epoch from the data RNG.
  if (!data.train) throw new Error(`data.train: no training data for stage ${stage.name}`);
  // Rank 0 tokenizes first; the other ranks then find its cache (or, on other machines, build their own).
  const cache = await dp.mainFirst(() => TokenCache.open(data.train!, model.tokenizer, model.maxLength, data.cache_dir, data.on_bad_record, log));
  const evalSet = data.eval ? await loadEvalSet(data.eval, data.on_bad_record) : null;
  try {
    checkDataFitsLoss(cache, stage.loss, data.train_group_size);
    if (args.eval_strategy !== 'no' && !evalSet) throw new Error(`training.eval_strategy is '${args.eval_strategy}' but data.eval is not set`);
    const withTeacher = stage.loss === 'margin_mse' || stage.loss === 'distill_mse';
    const globalBatch = args.per_device_train_batch_size * dp.worldSize;  // per-device batch per rank, as HF
    const batchesPerEpoch = Math.ceil(cache.recordCount / globalBatch);
    const stepsPerEpoch = Math.ceil(batchesPerEpoch / args.gradient_accumulation_steps);
    const totalSteps = args.max_steps > 0 ? args.max_steps : Math.ceil(stepsPerEpoch * args.num_train_epochs);
    const warmup = warmupSteps(args, totalSteps);
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
    const rng = new Rng(args.seed);
    let state: TrainerState = {
      stage: stage.index, globalStep: 0, epoch: 0, batchInEpoch: 0, epochRngState: rng.getState(),
      bestMetric: null, bestCheckpoint: null, evalsWithoutImprovement: 0, worldSize: dp.worldSize,
    };
    await addon().manualSeed(args.seed);
    const resumeFrom = findResumeCheckpoint(outputDir, ctx.options.resume, stage.index);
    if (resumeFrom) state = readTrainerState(resumeFrom);
    await dp.checkSame('the checkpoint step to resume from (-1: none)', [resumeFrom ? state.globalStep : -1]);
    if (resumeFrom) {
      dp.checkResumable(state, resumeFrom);
      model.dispose();
      model = await Reranker.load(resumeFrom, { device: ctx.device, maxLength: ctx.config.model.max_length });
      await model.native.loadOptimizer(path.join(resumeFrom, 'optimizer.safetensors'));
      if (dp.isMain) truncateMetrics(ctx.metricsFile, stage.index, state.globalStep);
      log(`resumed from ${resumeFrom} (step ${state.globalStep}, epoch ${state.epoch})`);
    }
    rng.setState(state.epochRngState);
    const planOptions = { shuffle: data.shuffle, batchSize: globalBatch, groupSize: data.train_group_size, withTeacher, groupByLength: args.group_by_length };
    let plan = planEpoch(cache, rng, planOptions);

    const progress = new Progress(dp.isMain ? (ctx.options.progress ?? 'auto') : 'none', totalSteps, state.globalStep, log);
    let windowLoss = 0, windowSteps = 0, windowPairs = 0, windowStart = Date.now();
    // One process: losses and gradient norms stay on the device until a log line needs them, so steps queue
    // up on the GPU without waiting for each other. Several: each step's loss is averaged over the ranks.
    const deferred = dp.worldSize === 1;
    await model.native.takeTrainStats();  // drop figures a resumed or earlier stage's model kept
    let gradNorm: number | null = null;
    // Reads what the device kept (waiting for the GPU) into the window; before every log line, evaluation and
    // checkpoint, so a non-finite loss stops the run before a checkpoint could hold its weights.
    const drainDeferred = async () => {
      if (!deferred) return;
      const stats = await model.native.takeTrainStats();
      if (stats.steps === 0) return;
      checkFinite(stats.loss ?? NaN, `steps ${state.globalStep - stats.steps + 1}-${state.globalStep}`);
      windowLoss += (stats.loss ?? NaN) * stats.steps;
      windowSteps += stats.steps;
      gradNorm = stats.gradNorm;
    };
    let finalMetrics: EvalMetrics | null = null;
    let stop = false;

    while (state.globalStep < totalSteps && !stop) {
      // 1. Accumulate gradients over up to gradient_accumulation_steps micro-batches (not across epochs); with
      //    several ranks, each trains on its shard of every global batch, then the gradients are averaged.
      let stepLoss = 0, micro = 0;
      await dp.seedStep(args.seed, state.globalStep);
      while (micro < args.gradient_accumulation_steps) {
        if (state.batchInEpoch >= plan.length) {
          if (micro > 0) break;
          state.epoch += 1;
          state.batchInEpoch = 0;
          state.epochRngState = rng.getState();
          plan = planEpoch(cache, rng, planOptions);
        }
        const batch = plan[state.batchInEpoch++];
        const { shard, share, gradientWeight } = dp.shard(batch);
        if (shard.pairs.length > 0) stepLoss += share * (await trainOnBatch(model, cache, shard, stage.loss, args, gradientWeight, deferred) ?? 0);
        windowPairs += batch.pairs.length;
        micro++;
      }
      stepLoss = await dp.allReduceGradients(model, stepLoss);

      // 2. One optimizer step at the scheduled learning rate.
      const lr = args.learning_rate * lrFactor(args.lr_scheduler_type, state.globalStep, warmup, totalSteps);
      const optimizerStep = { lr, beta1: args.adam_beta1, beta2: args.adam_beta2, eps: args.adam_epsilon,
        weightDecay: args.weight_decay, maxGradNorm: args.max_grad_norm };
      if (deferred) await model.native.optimizerStep({ ...optimizerStep, deferGradNorm: true, cudaGraphs: args.cuda_graphs });
      else gradNorm = await model.native.optimizerStep(optimizerStep);
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
      if (logNow || evalNow || saveNow) await drainDeferred();
      if (logNow) {
        const seconds = (Date.now() - windowStart) / 1000;
        const entry: LogEntry = { stage: stage.index, step: state.globalStep, epoch: round(epoch), loss: windowLoss / windowSteps,
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
        const entry: LogEntry = { stage: stage.index, step: state.globalStep, epoch: round(epoch) };
        for (const [k, v] of Object.entries(metrics)) entry[`eval_${k}`] = v;
        record(ctx, entry);
        progress.show(entry);
        const value = metrics[metricName];
        improved = state.bestMetric === null || (greaterIsBetter ? value > state.bestMetric : value < state.bestMetric);
        if (improved) {
          state.bestMetric = value;
          state.evalsWithoutImprovement = 0;
        } else {
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
      const dir = path.join(outputDir, `checkpoint-${state.globalStep}`);
      if (saveNow || (stop && saveEvery > 0) || aborted) {
        if (aborted) await drainDeferred();  // as before any checkpoint: a non-finite loss is never saved
        if (improved) state.bestCheckpoint = dir;
        if (dp.isMain) {
          await writeCheckpoint(outputDir, model, state);
          rotateCheckpoints(outputDir, args.save_total_limit, state.bestCheckpoint);
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
    if (args.load_best_model_at_end && bestCheckpoint && await dp.mainSays(fs.existsSync(bestCheckpoint))) {
      log(`loading the best checkpoint ${bestCheckpoint} (${metricName} = ${state.bestMetric})`);
      if (dp.isMain) {
        model.dispose();
        model = await Reranker.load(bestCheckpoint, { device: ctx.device, maxLength: ctx.config.model.max_length });
      }
      await dp.broadcastParameters(model);  // only rank 0 wrote the checkpoint: the others take its copy
      finalMetrics = evalSet ? await dp.evaluate(model, evalSet, args.per_device_eval_batch_size) : finalMetrics;
    }
    if (stage.name !== 'main' && dp.isMain) await model.save(outputDir);  // a finished stage, for resumed runs
    return { model, finalMetrics, globalStep: state.globalStep };
  } finally {
    cache.close();
  }
}

function checkCudaGraphs(loss: LossName, device: string, worldSize: number): void {
  const why = device !== 'cuda' ? `needs device cuda (this run uses ${device})`
    : !addon().runtimeInfo().cudaGraphs ? 'needs rrnative built against a CUDA LibTorch 2.4 or later'
      : worldSize > 1 ? 'is not available in data-parallel runs yet'
        : loss === 'lambda_loss' ? 'cannot capture lambda_loss, whose pair selection waits for the GPU; use another loss'
          : null;
  if (why) throw new Error(`training.cuda_graphs ${why}; set cuda_graphs: false`);
}

function checkFinite(loss: number, where: string): void {
  if (!Number.isFinite(loss)) throw new Error(`${where}: the loss is ${loss}; lower training.learning_rate or check the data`);
}

/**
 * training.length_slices for a step. 'auto': 1 where the layers run on packed tokens, attention included (BERT-family
 * float32 models on the CPU: no padding left to save, and each slice adds a forward: 1.15-1.3× faster unsliced on
 * the 2-core machine); 4 for other models on the CPU (DeBERTa: 2.35× faster at debdesc's shape before packing) and
 * in captured CUDA steps (1.55× there, H200); 1 on eager CUDA steps, where each slice adds a forward's kernel
 * launches (unmeasured).
 */
export function resolveLengthSlices(setting: number | 'auto', device: string, capturedSteps: boolean, packsTokens: boolean): number {
  if (setting !== 'auto') return setting;
  if (device === 'cpu') return packsTokens ? 1 : 4;
  return capturedSteps ? 4 : 1;
}

/** Whether the model's layers run on packed tokens, attention included (native/kernels/packed_attention.h). */
export function packsTokens(model: Reranker): boolean {
  // Qwen trains padded: its packed kernel has no backward pass for shared K/V heads.
  return model.device === 'cpu' && model.dtype === 'fp32' && !['deberta-v2', 'qwen3', 'qwen2'].includes(model.config.modelType);
}

// `gradientWeight` scales a rank's gradients so that their average over the ranks is the global batch's (see
// DataParallel.shard). Resolves to the loss, or to null when `deferLoss` keeps it on the device.
async function trainOnBatch(model: Reranker, cache: TokenCache, batch: PlannedBatch, loss: LossName, args: TrainingArgs,
  gradientWeight: number, deferLoss: boolean): Promise<number | null> {
  const tokens = cache.readBatch(batch.pairs, model.tokenizer.padTokenId);
  const input = { kind: loss, groupSize: batch.groupSize, labels: batch.labels, teacherScores: batch.teacherScores,
    scale: gradientWeight / args.gradient_accumulation_steps, bf16: args.bf16 };
  const lengthSlices = resolveLengthSlices(args.length_slices, model.device, deferLoss && args.cuda_graphs, packsTokens(model));
  return deferLoss ? model.native.trainStep(tokens, { ...input, lengthSlices, deferLoss: true, cudaGraphs: args.cuda_graphs })
    : model.native.trainStep(tokens, { ...input, lengthSlices });
}

// Each stage's data, loss and training arguments: the top-level ones with the stage's overrides.
function resolveStages(config: RunConfig): Stage[] {
  if (!config.stages) {
    return [{ index: 0, name: 'main', data: config.data, loss: config.loss.name, args: config.training }];
  }
  return config.stages.map((s, i) => {
    const name = s.name ?? `stage${i + 1}`;
    return {
      index: i,
      name,
      data: { ...config.data, ...s.data } as DataConfig,
      loss: s.loss?.name ?? config.loss.name,
      args: { ...config.training, ...s.training, output_dir: path.join(config.training.output_dir, `stage-${i + 1}-${name}`) },
    };
  });
}

async function loadStartingModel(config: RunConfig, device: 'cpu' | 'cuda'): Promise<Reranker> {
  const m = config.model;
  if (m.path) {
    return Reranker.load(m.path, { device, maxLength: m.max_length, configOverrides: m.config_overrides, seed: config.training.seed, revision: m.revision,
      template: m.template, instruction: m.instruction });
  }
  const hfConfig = typeof m.config === 'string' ? readJsonFile(m.config) as Record<string, unknown> : m.config!;
  return Reranker.create({ config: hfConfig, tokenizer: m.tokenizer!, numLabels: m.num_labels, device, maxLength: m.max_length,
    configOverrides: m.config_overrides, seed: config.training.seed, revision: m.revision, template: m.template, instruction: m.instruction });
}

// Never train over an earlier run's checkpoints by accident: that would mix two runs' files.
function guardOutputDir(stages: Stage[], resume: TrainOptions['resume']): void {
  if (resume) return;
  for (const s of stages) {
    const existing = listCheckpoints(s.args.output_dir);
    if (existing.length) {
      throw new Error(`${s.args.output_dir} already holds checkpoints of an earlier run (${path.basename(existing.at(-1)!.dir)}): ` +
        'pass --resume to continue it, or choose another training.output_dir');
    }
  }
}

function findResumeCheckpoint(outputDir: string, resume: TrainOptions['resume'], stage: number): string | null {
  if (!resume) return null;
  if (typeof resume === 'string') {
    const state = readTrainerState(resume);
    return state.stage === stage ? resume : null;
  }
  return listCheckpoints(outputDir).at(-1)?.dir ?? null;
}

function record(ctx: StageContext, entry: LogEntry): void {
  ctx.history.push(entry);
  if (!ctx.dp.isMain) return;
  fs.appendFileSync(ctx.metricsFile, JSON.stringify(entry) + '\n');
  ctx.options.onLog?.(entry);
}

// A resumed run rewrites the steps after its checkpoint: drop the killed run's lines for them.
function truncateMetrics(file: string, stage: number, step: number): void {
  if (!fs.existsSync(file)) return;
  const kept = fs.readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (!line.trim()) return false;
    const e = JSON.parse(line) as LogEntry;
    return e.stage < stage || (e.stage === stage && e.step <= step);
  });
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

// The whole run's log, including steps before a resume (the in-memory history starts at the resume point).
function readHistory(file: string): LogEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogEntry);
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
