"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.lrFactor = lrFactor;
exports.warmupSteps = warmupSteps;
/** The lr multiplier for optimizer step `step` (0-based: the first step runs at factor(0)). */
function lrFactor(type, step, warmupSteps, totalSteps) {
    if (type === 'constant')
        return 1;
    if (step < warmupSteps)
        return step / Math.max(1, warmupSteps);
    if (type === 'constant_with_warmup')
        return 1;
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    if (type === 'linear')
        return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress))); // cosine, half a cycle
}
/** warmup_steps wins over warmup_ratio, as in TrainingArguments. */
function warmupSteps(args, totalSteps) {
    return args.warmup_steps > 0 ? args.warmup_steps : Math.ceil(args.warmup_ratio * totalSteps);
}
