"""The Hugging Face transformers side of scripts/bench/families.ts (ModernBERT and Qwen3 sequence classifiers).

  python families_peer.py create ARCH CONFIG_JSON OUT_DIR [--seed 0]
      ARCH (e.g. ModernBertForSequenceClassification) random-init from AutoConfig.for_model(**CONFIG_JSON),
      saved in float32 with save_pretrained.
  python families_peer.py score MODEL_DIR BATCHES_JSON [--threads 2] [--warmup K]
      BATCHES_JSON: {"batches": [{"input_ids": [[...]], "attention_mask": [[...]]}, ...]}. Loads the folder with
      AutoModelForSequenceClassification (default attention implementation), runs batch K once untimed, then
      every batch in order, timed; prints one JSON line: pairs_per_s, seconds, logits (per batch), versions.
"""
import argparse
import json
import sys
import time


def create(args):
    import torch
    import transformers
    config_kwargs = json.loads(args.config)
    model_type = config_kwargs.pop('model_type')
    config = transformers.AutoConfig.for_model(model_type, **config_kwargs)
    torch.manual_seed(args.seed)
    model = getattr(transformers, args.arch)(config).to(torch.float32).eval()
    model.save_pretrained(args.out)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({'arch': args.arch, 'params': params, 'config': config.to_dict()}, default=str))


def score(args):
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    with open(args.batches) as f:
        batches = json.load(f)['batches']
    # Tensors are built before the clock starts: ours gets its batches as typed arrays, also built untimed.
    tensors = [(torch.tensor(b['input_ids'], dtype=torch.long), torch.tensor(b['attention_mask'], dtype=torch.long)) for b in batches]
    model = transformers.AutoModelForSequenceClassification.from_pretrained(args.model, dtype=torch.float32).eval()
    attn = getattr(model.config, '_attn_implementation', None)
    logits = []
    with torch.inference_mode():
        ids, mask = tensors[args.warmup]
        model(input_ids=ids, attention_mask=mask)
        t0 = time.perf_counter()
        for ids, mask in tensors:
            logits.append(model(input_ids=ids, attention_mask=mask).logits)
        seconds = time.perf_counter() - t0
    pairs = sum(int(ids.shape[0]) for ids, _ in tensors)
    print(json.dumps({
        'pairs_per_s': pairs / seconds, 'seconds': seconds, 'pairs': pairs, 'threads': torch.get_num_threads(),
        'attn_implementation': attn, 'torch': torch.__version__, 'transformers': transformers.__version__,
        'logits': [l.float().tolist() for l in logits],
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('create')
    c.add_argument('arch')
    c.add_argument('config')
    c.add_argument('out')
    c.add_argument('--seed', type=int, default=0)
    s = sub.add_parser('score')
    s.add_argument('model')
    s.add_argument('batches')
    s.add_argument('--threads', type=int, default=2)
    s.add_argument('--warmup', type=int, default=0)
    args = parser.parse_args()
    if args.cmd == 'create':
        create(args)
    else:
        score(args)


if __name__ == '__main__':
    sys.exit(main())
