// What training.length_slices buys on this machine: the same planned batches of a config's training data,
// each trained once with one padded forward (length_slices 1) and once in length slices (--slices, default 4),
// interleaved so both see the same machine load. Prints pairs/s of each and the ratio, and how much of a
// padded batch is real tokens. The model is the config's new model (model.config), or model.path.
//
//   npx tsc -p . && node dist/scripts/bench/slices.js configs/quickstart.yaml [--steps 20] [--slices 4]
//       [--set key=value …]   (needs the config's inputs: for quickstart, bash scripts/quickstart.sh prepares them)
// The quickstart's model at debdesc's shape (inputs from scripts/debdesc.sh):
//   node dist/scripts/bench/slices.js configs/quickstart.yaml --steps 12 --set model.max_length=256 \
//     --set data.train.path=runs/debdesc/train-hard-negatives.jsonl --set data.train.max_records=2000 \
//     --set data.train_group_size=16 --set training.per_device_train_batch_size=4
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/load';
import { Rng } from '../../src/data/rng';
import { Reranker } from '../../src/model';
import { TokenCache } from '../../src/train/cache';
import { planEpoch } from '../../src/train/plan';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: {
    steps: { type: 'string', default: '20' }, slices: { type: 'string', default: '4' }, set: { type: 'string', multiple: true, default: [] } } });
  if (positionals.length !== 1) throw new Error('usage: slices.js CONFIG.yaml [--steps N] [--slices K] [--set key=value …]');
  const steps = Number(values.steps), slices = Number(values.slices);
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`--steps must be a whole number ≥ 2, got ${values.steps}`);
  if (!Number.isInteger(slices) || slices < 2 || slices > 64) throw new Error(`--slices must be a whole number from 2 to 64, got ${values.slices}`);
  const config = loadConfig(positionals[0], values.set);
  const m = config.model, args = config.training, data = config.data;
  const device = args.device === 'cuda' ? 'cuda' : 'cpu';
  const model = m.path
    ? await Reranker.load(m.path, { device, maxLength: m.max_length, seed: args.seed })
    : await Reranker.create({ config: m.config as Record<string, unknown>, tokenizer: m.tokenizer!, device, maxLength: m.max_length, seed: args.seed });
  const cache = await TokenCache.open(data.train!, model.tokenizer, model.maxLength, data.cache_dir, data.on_bad_record, (l) => console.error(l));
  const plan = planEpoch(cache, new Rng(args.seed), { shuffle: true, batchSize: args.per_device_train_batch_size,
    groupSize: data.train_group_size, withTeacher: false, groupByLength: args.group_by_length }).slice(0, steps + 1);
  const seconds = new Map<number, number>([[1, 0], [slices, 0]]);
  let pairs = 0, real = 0, padded = 0;
  for (let i = 0; i < plan.length; i++) {
    const batch = plan[i];
    for (const k of i % 2 ? [1, slices] : [slices, 1]) {
      const tokens = cache.readBatch(batch.pairs, model.tokenizer.padTokenId);
      const start = process.hrtime.bigint();
      await model.native.trainStep(tokens, { kind: config.loss.name, groupSize: batch.groupSize, labels: batch.labels,
        teacherScores: batch.teacherScores, scale: 1, bf16: false, lengthSlices: k });
      await model.native.optimizerStep({ lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 });
      if (i > 0) seconds.set(k, seconds.get(k)! + Number(process.hrtime.bigint() - start) / 1e9);  // batch 0: warm-up
      if (i > 0 && k === 1) {
        pairs += tokens.batch;
        real += tokens.attentionMask.reduce((s, x) => s + x, 0);
        padded += tokens.batch * tokens.length;
      }
    }
  }
  const stats = await model.native.takeTrainStats();
  model.dispose();
  const rate = (k: number) => pairs / seconds.get(k)!;
  console.log(`| ${positionals[0]} | ${steps} steps of ${plan[1].pairs.length} pairs | real/padded tokens ${(real / padded).toFixed(2)} | ` +
    `length_slices 1: ${rate(1).toFixed(1)} pairs/s | length_slices ${slices}: ${rate(slices).toFixed(1)} pairs/s ` +
    `(${stats.slicedMicroBatches} of ${steps + 1} batches sliced) | ratio ${(rate(slices) / rate(1)).toFixed(2)}× |`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
