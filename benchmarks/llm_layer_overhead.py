"""Overhead of promptlearn's LLM layer over calling llama-cpp-python directly.

Same model object, same 20 prompts, temperature 0. Each prompt runs direct and through
``LLM.acomplete`` (cache off) in alternating order, three passes, median per call compared.
Then the same 20 through a warm on-disk cache: the cache-hit latency.

    python benchmarks/llm_layer_overhead.py [--model local/qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from promptlearn.llm import LLM
from promptlearn.llm.backends import load_llama
from promptlearn.local_models import resolve_model_path

PROMPTS = [f"In one short sentence, what is {topic}?" for topic in [
    "a prime number", "photosynthesis", "a haiku", "gravity", "an API", "a compiler", "inflation", "DNA",
    "a volcano", "entropy", "a sonnet", "a hash table", "a black hole", "democracy", "a vaccine", "a neuron",
    "a glacier", "a derivative", "a mortgage", "a protocol"]]
MAX_TOKENS = 32


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="local/qwen2.5-coder-0.5b")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("llm_layer_overhead.json")))
    args = parser.parse_args()

    path = resolve_model_path(args.model)
    llama, _ = load_llama(path)
    llm = LLM(args.model, cache=None)
    messages = [[{"role": "user", "content": p}] for p in PROMPTS]

    def direct(m):
        t = time.perf_counter()
        llama.create_chat_completion(messages=m, temperature=0.0, max_tokens=MAX_TOKENS)
        return time.perf_counter() - t

    def layered(m):
        t = time.perf_counter()
        asyncio.run(llm.acomplete(m, max_tokens=MAX_TOKENS))
        return time.perf_counter() - t

    direct(messages[0]), layered(messages[0])  # warm-up: load, first-call allocations
    d_times, l_times = [], []
    for p in range(args.passes):
        for i, m in enumerate(messages):
            order = (direct, layered) if (i + p) % 2 == 0 else (layered, direct)
            for fn in order:
                (d_times if fn is direct else l_times).append(fn(m))
    d_med, l_med = statistics.median(d_times), statistics.median(l_times)

    with tempfile.TemporaryDirectory() as tmp:
        cached = LLM(args.model, cache=Path(tmp) / "c.sqlite")
        for m in messages:
            asyncio.run(cached.acomplete(m, max_tokens=MAX_TOKENS))
        hits = []
        for m in messages:
            t = time.perf_counter()
            out = asyncio.run(cached.acomplete(m, max_tokens=MAX_TOKENS))
            hits.append(time.perf_counter() - t)
            assert out.cached

    result = {"model": args.model, "prompts": len(PROMPTS), "passes": args.passes, "max_tokens": MAX_TOKENS,
              "direct_median_s": round(d_med, 4), "layer_median_s": round(l_med, 4),
              "overhead_pct": round(100 * (l_med - d_med) / d_med, 2),
              "direct_total_s": round(sum(d_times), 2), "layer_total_s": round(sum(l_times), 2),
              "cache_hit_median_ms": round(1000 * statistics.median(hits), 3)}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
