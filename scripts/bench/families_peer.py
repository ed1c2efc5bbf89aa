"""The Hugging Face transformers side of scripts/bench/families.ts (ModernBERT and Qwen3 sequence classifiers).

  python families_peer.py create ARCH CONFIG_JSON OUT_DIR [--seed 0]
      ARCH (e.g. ModernBertForSequenceClassification) random-init from AutoConfig.for_model(**CONFIG_JSON),
      saved in float32 with save_pretrained.
  python families_peer.py score MODEL_DIR BATCHES_JSON [--threads 2] [--warmup K]
      BATCHES_JSON: {"batches": [{"input_ids": [[...]], "attention_mask": [[...]]}, ...]}. Loads the folder with
      AutoModelForSequenceClassification (default attention implementation), runs batch K once untimed, then
      every batch in order, timed; prints one JSON line: pairs_per_s, seconds, logits (per batch), versions.
  python families_peer.py st-predict MODEL_DIR PAIRS_JSON [--threads 2] [--batch 16] [--max-length 256] [--warmup 4]
      PAIRS_JSON: {"pairs": [[query, document], ...]}. Loads sentence-transformers' CrossEncoder(MODEL_DIR,
      max_length, device='cpu') (untimed), predicts the first --warmup pairs once untimed, then every pair in one
      timed predict(batch_size, activation_fn=Identity: the raw logits, not the default sigmoid of a one-label
      model); tokenization is inside the timed call. Prints one JSON line: pairs_per_s, seconds, scores, tokens
      (per pair, counted by the CrossEncoder's tokenizer after the clock stops), versions, defaults.
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


def st_predict(args):
    import torch
    torch.set_num_threads(args.threads)
    import sentence_transformers
    import transformers
    from sentence_transformers import CrossEncoder
    with open(args.pairs) as f:
        pairs = [tuple(p) for p in json.load(f)['pairs']]
    model = CrossEncoder(args.model, max_length=args.max_length, device='cpu')
    default_activation = type(model.activation_fn).__name__ if model.activation_fn is not None else None
    # predict() applies `activation_fn or model.activation_fn` (Sigmoid for num_labels 1): Identity keeps the logits.
    identity = torch.nn.Identity()
    kwargs = dict(batch_size=args.batch, activation_fn=identity, convert_to_numpy=True, show_progress_bar=False)
    model.predict(pairs[:args.warmup], **kwargs)
    t0 = time.perf_counter()
    scores = model.predict(pairs, **kwargs)
    seconds = time.perf_counter() - t0
    tokenizer = model.tokenizer
    tokens = [len(tokenizer(q, d, truncation='longest_first', max_length=args.max_length)['input_ids']) for q, d in pairs]
    inner = model[0]
    print(json.dumps({
        'pairs_per_s': len(pairs) / seconds, 'seconds': seconds, 'pairs': len(pairs), 'threads': torch.get_num_threads(),
        'scores': [float(x) for x in scores], 'tokens': tokens,
        'num_labels': model.num_labels, 'default_activation_fn': default_activation, 'max_length': model.max_length,
        'padding_side': tokenizer.padding_side, 'can_flatten_inputs': bool(getattr(inner, 'can_flatten_inputs', False)),
        'model_class': type(inner.model).__name__, 'attn_implementation': getattr(inner.model.config, '_attn_implementation', None),
        'torch': torch.__version__, 'transformers': transformers.__version__, 'sentence_transformers': sentence_transformers.__version__,
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
    t = sub.add_parser('st-predict')
    t.add_argument('model')
    t.add_argument('pairs')
    t.add_argument('--threads', type=int, default=2)
    t.add_argument('--batch', type=int, default=16)
    t.add_argument('--max-length', type=int, default=256)
    t.add_argument('--warmup', type=int, default=4)
    args = parser.parse_args()
    if args.cmd == 'create':
        create(args)
    elif args.cmd == 'score':
        score(args)
    else:
        st_predict(args)


if __name__ == '__main__':
    sys.exit(main())
