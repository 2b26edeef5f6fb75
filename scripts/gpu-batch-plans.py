#!/usr/bin/env python3
"""GPU time of codecarto's batch plan against fixed batches of 48, on an NV-Embed-v2-shaped encoder.

The encoder is NV-Embed-v2's backbone shape (Mistral-7B: 32 layers, hidden 4096, 32 heads, 8 KV heads,
MLP 14336) with random bf16 weights, followed by masked mean pooling and L2 normalization; speed does not
depend on the weights. The batches come from plans.json (written by scripts/export-batch-plans.mjs): lists
of token lengths per batch, for codecarto's planner and for fixed batches of 48 in walk order. Each batch
is run right-padded to its longest text, as an embedding server does.

    python3 scripts/gpu-batch-plans.py plans.json [--limit-seconds 200]
"""
import argparse
import json
import time

import torch
from transformers import MistralConfig, MistralModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("plans")
    ap.add_argument("--limit-seconds", type=float, default=200.0, help="stop a plan after this much GPU time")
    args = ap.parse_args()
    plans = json.load(open(args.plans))
    config = MistralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                           num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768)
    config._attn_implementation = "sdpa"
    t = time.time()
    with torch.device("cuda"):
        torch.manual_seed(0)
        model = MistralModel(config).to(torch.bfloat16).eval()
    torch.cuda.synchronize()
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters on {torch.cuda.get_device_name()}, "
          f"built in {time.time() - t:.1f} s", flush=True)

    def run(batch: list[int]) -> None:
        n, width = len(batch), max(batch)
        ids = torch.randint(3, 32000, (n, width), device="cuda")
        mask = (torch.arange(width, device="cuda")[None, :] < torch.tensor(batch, device="cuda")[:, None]).long()
        with torch.inference_mode():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1)
            torch.nn.functional.normalize(pooled.float(), dim=-1)

    for batch in plans["planner"][:3]:
        run(batch)
    torch.cuda.synchronize()
    results = {}
    for name in ("planner", "fixed48"):
        torch.cuda.reset_peak_memory_stats()
        real = padded = done = 0
        start = time.time()
        for batch in plans[name]:
            run(batch)
            real += sum(batch)
            padded += len(batch) * max(batch)
            done += 1
            if done % 20 == 0:
                torch.cuda.synchronize()
                if time.time() - start > args.limit_seconds:
                    break
        torch.cuda.synchronize()
        seconds = time.time() - start
        results[name] = {
            "batches": done, "of": len(plans[name]), "real_tokens": real, "padded_tokens": padded,
            "pad_factor": round(padded / real, 3), "seconds": round(seconds, 2),
            "real_tokens_per_s": round(real / seconds), "padded_tokens_per_s": round(padded / seconds),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        }
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps({"repo": plans.get("repo"), "texts": plans.get("texts"), "device": torch.cuda.get_device_name(), **results}))


if __name__ == "__main__":
    main()
