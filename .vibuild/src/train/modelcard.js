"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.writeModelCard = writeModelCard;
// The model card (README.md) written next to a trained model: base model, data, loss, hyperparameters, metrics.
const node_path_1 = __importDefault(require("node:path"));
const formats_1 = require("../data/formats");
const models_1 = require("../hub/models");
const util_1 = require("../util");
const HYPERPARAMETERS = [
    'learning_rate', 'lr_scheduler_type', 'warmup_steps', 'warmup_ratio', 'num_train_epochs', 'max_steps',
    'per_device_train_batch_size', 'gradient_accumulation_steps', 'weight_decay', 'max_grad_norm', 'seed', 'bf16',
];
function writeModelCard(dir, config, stages, metrics) {
    // Paths relative to the model folder: the card reads the same on another machine (config paths are absolute here).
    const shown = (p) => (p && node_path_1.default.isAbsolute(p) ? node_path_1.default.relative(dir, p).split(node_path_1.default.sep).join('/') || '.' : p);
    const base = config.model.path ? `\`${shown(config.model.path)}\`` : 'a new model (random initialisation)';
    const lines = [
        '---',
        'library_name: rrnative',
        'pipeline_tag: text-ranking',
        'tags: [cross-encoder, reranker, rrnative]',
        // base_model is Hub metadata: a Hub id, not a folder on this machine.
        ...(config.model.path && !node_path_1.default.isAbsolute(config.model.path) && (0, models_1.looksLikeHubId)(config.model.path) ? [`base_model: ${config.model.path.split('@')[0]}`] : []),
        // datasets: Hub metadata too, the Hub datasets the stages trained on.
        ...hubDatasets(stages).map((d, i) => `${i === 0 ? 'datasets:\n' : ''}- ${d}`),
        '---',
        '',
        '# Cross-encoder reranker',
        '',
        `Trained with [rrnative](https://www.npmjs.com/package/rrnative) from ${base}. It scores a (query, document) pair; higher is more relevant.`,
        'The folder is a Hugging Face model folder: `AutoModelForSequenceClassification` and sentence-transformers\' `CrossEncoder` load it as it is.',
        '',
        '## Training',
        '',
        `- max_length: ${config.model.max_length}`,
    ];
    for (const s of stages) {
        lines.push('', `### Stage ${s.name}`, '', `- data: ${s.data.train ? (0, formats_1.describeDataSource)(s.data.train, shown) : '(none)'} (format ${s.data.train?.format ?? 'auto'})`, `- loss: ${s.loss}${s.data.train_group_size > 1 ? ` (train_group_size ${s.data.train_group_size})` : ''}`, '', '| hyperparameter | value |', '| --- | --- |');
        for (const key of HYPERPARAMETERS)
            lines.push(`| ${key} | ${String(s.args[key])} |`);
    }
    if (metrics) {
        lines.push('', '## Evaluation', '', `On ${stages.at(-1)?.data.eval ? (0, formats_1.describeDataSource)(stages.at(-1).data.eval, shown) : 'the eval set'}:`, '', '| metric | value |', '| --- | --- |');
        for (const [k, v] of Object.entries(metrics))
            lines.push(`| ${k} | ${Number.isInteger(v) ? v : v.toFixed(4)} |`);
    }
    // The folder as the run's caller names it (output_dir is taken from the working directory); one outside it by its name.
    const fromCwd = node_path_1.default.relative(process.cwd(), dir).split(node_path_1.default.sep).join('/');
    const folder = !fromCwd ? '.' : fromCwd.startsWith('../') || node_path_1.default.isAbsolute(fromCwd) ? node_path_1.default.basename(dir) : fromCwd;
    const maxLength = config.model.max_length;
    lines.push('', '## Usage', '', 'Scores are raw logits, higher is more relevant (a sigmoid maps a one-label model\'s to 0..1).', '', 'rrnative (Node.js):', '', '```js', "const rr = require('rrnative');", `const model = await rr.load('${folder}');`, "const scores = await model.score([['query', 'document']]);  // { activation: 'sigmoid' } for 0..1", '```', '', 'transformers:', '', '```python', 'import torch', 'from transformers import AutoModelForSequenceClassification, AutoTokenizer', '', `tokenizer = AutoTokenizer.from_pretrained("${folder}")`, `model = AutoModelForSequenceClassification.from_pretrained("${folder}").eval()`, `features = tokenizer(["query"], ["document"], padding=True, truncation=True, max_length=${maxLength}, return_tensors="pt")`, 'with torch.no_grad():', '    scores = model(**features).logits.squeeze(-1)', '```', '', 'sentence-transformers (its `predict` applies the sigmoid to one-label models):', '', '```python', 'from sentence_transformers import CrossEncoder', '', `model = CrossEncoder("${folder}", max_length=${maxLength})`, 'scores = model.predict([("query", "document")])', '```', '');
    (0, util_1.writeFileAtomic)(node_path_1.default.join(dir, 'README.md'), lines.join('\n'));
}
function hubDatasets(stages) {
    const ids = stages.flatMap((s) => [s.data.train?.hub, s.data.eval?.hub]).filter((h) => Boolean(h)).map((h) => h.split('@')[0]);
    return [...new Set(ids)];
}
