"""Overhead of promptlearn's LLM layer over calling llama-cpp-python directly.

Same model object, same 20 prompts, temperature 0, cache off. Each prompt runs three ways in
rotating order: llama-cpp-python directly, ``await LLM.acomplete`` in one event loop (how the
optimiser calls it), and the sync wrapper ``LLM.complete``. Then the same 20 through a warm
on-disk cache: the cache-hit latency.

    python benchmarks/llm_layer/llm_layer_overhead.py [--model local/qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from promptlearn.llm import LLM
from promptlearn.llm.backends import load_llama
from promptlearn.llm.local_models import resolve_model_path

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

    async def layered(m):
        t = time.perf_counter()
        await llm.acomplete(m, max_tokens=MAX_TOKENS)
        return time.perf_counter() - t

    def sync_wrapper(m):
        t = time.perf_counter()
        llm.complete(m, max_tokens=MAX_TOKENS)
        return time.perf_counter() - t

    async def measure():
        # One event loop for all calls, as the optimiser runs; direct calls block the same loop.
        direct(messages[0]), await layered(messages[0]), sync_wrapper(messages[0])  # warm-up
        times = {"direct": [], "async": [], "sync": []}
        for p in range(args.passes):
            for i, m in enumerate(messages):
                order = ["direct", "async", "sync"]
                rot = (i + p) % 3
                for name in order[rot:] + order[:rot]:  # rotate so no variant always goes first
                    if name == "direct":
                        times[name].append(direct(m))
                    elif name == "async":
                        times[name].append(await layered(m))
                    else:
                        times[name].append(await asyncio.to_thread(sync_wrapper, m))
        return times

    times = asyncio.run(measure())
    d_med = statistics.median(times["direct"])
    a_med = statistics.median(times["async"])
    s_med = statistics.median(times["sync"])

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

    pct = lambda x: round(100 * (x - d_med) / d_med, 2)  # noqa: E731
    total = lambda k: round(sum(times[k]), 2)  # noqa: E731
    result = {"model": args.model, "prompts": len(PROMPTS), "passes": args.passes, "max_tokens": MAX_TOKENS,
              "direct_median_s": round(d_med, 4), "async_layer_median_s": round(a_med, 4),
              "sync_wrapper_median_s": round(s_med, 4),
              "async_overhead_pct_median": pct(a_med), "sync_overhead_pct_median": pct(s_med),
              "direct_total_s": total("direct"), "async_total_s": total("async"), "sync_total_s": total("sync"),
              "async_overhead_pct_total": round(100 * (total("async") - total("direct")) / total("direct"), 2),
              "cache_hit_median_ms": round(1000 * statistics.median(hits), 3),
              "command": "python benchmarks/llm_layer/llm_layer_overhead.py " + " ".join(sys.argv[1:])}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
