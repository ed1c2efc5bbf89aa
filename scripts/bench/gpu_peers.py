#!/usr/bin/env python3
"""Python side of scripts/bench/gpu.sh (the GPU benchmark). Needs only the standard library, except `info`
(torch, transformers, sentence-transformers when present) and `run` (the peer's own imports).

  gpu_peers.py pairs DATA.jsonl.gz OUT.jsonl [--n 20000]
      The pairs the peers (peer_train.py, peer_bench.py) build, in their order, with their labels, written as
      JSONL {"query", "document", "label"} for rrnative's side: the same code (random.seed(0); rows[:20000];
      odd rows the row's own description, even rows a random row's).
  gpu_peers.py info OUT.json
      Versions and the device: torch, CUDA, GPU name and count, driver, transformers, sentence-transformers.
      Exits 3 when torch sees no CUDA device.
  gpu_peers.py tokcheck TOKENIZER_DIR PAIRS.jsonl OUT.json [--n 500]
      The token ids transformers' AutoTokenizer (what the peers use) gives the first pairs, truncated to 256
      longest-first, for gpu.js table to compare with rrnative's.
  gpu_peers.py run PEER.py ARGS...
      Runs a peer script unchanged (runpy), recording per measurement the torch allocator's peak above what
      was allocated when the measurement began ("torch_peak_alloc_gib"): the peers print each measurement's
      result dict as soon as it is done, so printing is where a measurement ends (and the next begins). With
      RR_PEER_PARTIAL=FILE it also writes the results printed so far to FILE as JSON after each one, so a peer
      stopped by a time limit still leaves what it measured.
"""
import gzip
import json
import os
import random
import subprocess
import sys


def pairs(argv):
    data, out = argv[0], argv[1]
    n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 20000
    rows = [json.loads(l) for l in gzip.open(data, "rt")]
    random.seed(0)  # exactly as peer_train.py / peer_bench.py
    with open(out, "w") as f:
        for i, r in enumerate(rows[:n]):
            if i % 2:
                d, y = r["document"], 1.0
            else:
                d, y = rows[random.randrange(len(rows))]["document"], 0.0
            f.write(json.dumps({"query": r["query"], "document": d, "label": y}) + "\n")
    print(f"wrote {min(n, len(rows))} pairs to {out}")


def info(argv):
    out = {"python": sys.version.split()[0]}
    try:
        import torch
        out["torch"] = torch.__version__
        out["cuda"] = torch.version.cuda
        out["cuda_available"] = bool(torch.cuda.is_available())
        if out["cuda_available"]:
            out["gpu"] = torch.cuda.get_device_name(0)
            out["gpu_count"] = torch.cuda.device_count()
            p = torch.cuda.get_device_properties(0)
            out["gpu_memory_gib"] = round(p.total_memory / 2**30, 1)
            out["sm_count"] = p.multi_processor_count
    except Exception as ex:  # no torch at all
        out["torch_error"] = repr(ex)[:300]
        out["cuda_available"] = False
    for mod in ("transformers", "sentence_transformers", "datasets", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = None
    try:
        out["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                       capture_output=True, text=True, timeout=20).stdout.strip().split("\n")[0] or None
    except Exception:
        out["driver"] = None
    with open(argv[0], "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))
    return 0 if out["cuda_available"] else 3


def tokcheck(argv):
    import transformers
    tokdir, pairs_file, out = argv[0], argv[1], argv[2]
    n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 500
    tok = transformers.AutoTokenizer.from_pretrained(tokdir)
    rows = []
    with open(pairs_file) as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) >= n:
                break
    enc = tok([r["query"] for r in rows], [r["document"] for r in rows], truncation=True, max_length=256)
    with open(out, "w") as f:
        json.dump({"tokenizer_class": type(tok).__name__, "input_ids": enc["input_ids"]}, f)
    print(f"tokcheck: {type(tok).__name__}, {len(rows)} pairs -> {out}")
    return 0


def run(argv):
    import builtins
    import runpy
    script = argv[0]
    try:
        import torch
        cuda = torch.cuda.is_available()
    except Exception:
        cuda = False
    state = {"start": torch.cuda.memory_allocated() if cuda else 0}
    original_print = builtins.print
    partial_file = os.environ.get("RR_PEER_PARTIAL")
    partial = {}

    def record(args):
        # peer_train.py prints (name, {method: result}); peer_bench.py prints (name, key, result)
        if not partial_file or not args or not isinstance(args[0], str):
            return
        if len(args) == 2 and isinstance(args[1], dict):
            partial.setdefault(args[0], {}).update(args[1])
        elif len(args) == 3 and isinstance(args[1], str) and isinstance(args[2], dict):
            partial.setdefault(args[0], {})[args[1]] = args[2]
        else:
            return
        try:
            with open(partial_file + ".tmp", "w") as f:
                json.dump(partial, f, indent=1, default=str)
            os.replace(partial_file + ".tmp", partial_file)
        except Exception:
            pass

    def stamp(d):
        if isinstance(d, dict) and "torch_peak_alloc_gib" not in d and ("pairs_per_s" in d or "error" in d):
            if cuda and "pairs_per_s" in d:
                d["torch_peak_alloc_gib"] = round(max(0, torch.cuda.max_memory_allocated() - state["start"]) / 2**30, 3)
            else:
                d["torch_peak_alloc_gib"] = None
            return True
        return False

    def hooked_print(*args, **kwargs):
        if cuda:
            done = False
            for a in args:
                if isinstance(a, dict):
                    done = stamp(a) or done
                    for v in a.values():
                        done = stamp(v) or done
            if done:
                torch.cuda.synchronize()
                state["start"] = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
        else:
            for a in args:
                if isinstance(a, dict):
                    stamp(a)
                    for v in a.values():
                        stamp(v)
        record(args)
        return original_print(*args, **kwargs)

    builtins.print = hooked_print
    sys.argv = [script] + argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("pairs", "info", "tokcheck", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "pairs":
        if len(argv) < 2:
            print("usage: gpu_peers.py pairs DATA.jsonl.gz OUT.jsonl [--n 20000]", file=sys.stderr)
            return 2
        pairs(argv)
        return 0
    if cmd == "info":
        if len(argv) < 1:
            print("usage: gpu_peers.py info OUT.json", file=sys.stderr)
            return 2
        return info(argv)
    if cmd == "tokcheck":
        if len(argv) < 3:
            print("usage: gpu_peers.py tokcheck TOKENIZER_DIR PAIRS.jsonl OUT.json [--n 500]", file=sys.stderr)
            return 2
        return tokcheck(argv)
    if len(argv) < 1:
        print("usage: gpu_peers.py run PEER.py ARGS...", file=sys.stderr)
        return 2
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
