#!/usr/bin/env python3
"""PyTorch's own int8 CPU inference, the peer of the int8 scoring rows of scripts/bench/cpu.ts.

The BERT of ../shared/peers/cpu_bert_peer.py (loaded from its path: same model code, same weights loading), its
encoder layers' nn.Linear modules converted with torch.ao's dynamic quantization: qint8 weights per output channel
(symmetric), activations quantized per call (quint8) -- what rrnative's dtype 'int8' does (native/kernels/int8_linear.h),
on the same engine (onednn when this torch has it). Inputs, batching (--sort: length-sorted) and timing are the
shared peer's `infer`: token ids given, not timed; one warm-up batch.

  python3 cpu_int8_peer.py PEER.py MODEL_DIR TOKENS.jsonl --batch 32 [--threads N]

Prints one JSON line: {"mode", "pairs_per_s", "seconds", ...}.
"""
import argparse, importlib.util, json, sys, time
import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", help="path of cpu_bert_peer.py")
    ap.add_argument("model")
    ap.add_argument("tokens")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("cpu_bert_peer", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    if a.threads:
        torch.set_num_threads(a.threads)
    engines = torch.backends.quantized.supported_engines
    engine = next((e for e in ("onednn", "x86", "fbgemm") if e in engines), None)
    if engine is None:
        sys.exit(f"this torch has no x86 int8 engine (supported: {engines})")
    torch.backends.quantized.engine = engine
    cfg = json.load(open(f"{a.model}/config.json"))
    cfg.setdefault("layer_norm_eps", 1e-12)
    m = peer.Bert(cfg)
    m.load_hf(peer.load_safetensors(f"{a.model}/model.safetensors"))
    m.eval()
    # The encoder layers' Linears, as rrnative (the pooler and the head stay float32: one row per pair).
    m = quantize_dynamic(m, {"layers": per_channel_dynamic_qconfig}, dtype=torch.qint8)
    rows = [json.loads(l) for l in open(a.tokens)]
    rows.sort(key=lambda r: len(r["input_ids"]))
    with torch.inference_mode():
        for b in peer.batches(rows[: a.batch], a.batch):
            m(*b)
        t0 = time.perf_counter()
        n = 0
        for b in peer.batches(rows, a.batch):
            m(*b); n += b[0].shape[0]
        dt = time.perf_counter() - t0
    print(json.dumps({"mode": "infer-int8", "pairs_per_s": n / dt, "seconds": dt, "pairs": n, "batch": a.batch,
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "engine": engine}))


if __name__ == "__main__":
    sys.exit(main())
