#!/usr/bin/env bash
# The runs behind benchmarks/README.md "Auto mode against rules mode and gepa": the same split, seed prompt,
# agent (0.5B), rewriter (1.5B), judges and 200-rollout budget; only the search differs.
# Rows measured at an earlier commit used --tag auto-$B (see the footnotes). Each run is resumable (benchmarks/optimizer/runs/<name>/) and writes benchmarks/results/optimizer/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=200
for task in bbh_logical_deduction_three_objects bbh_temporal_sequences; do
  python benchmarks/optimizer/run_benchmark.py "$task" --seed 0 --mode auto --max-rollouts $B --tag auto-$B-prior
  python benchmarks/optimizer/run_benchmark.py "$task" --seed 0 --mode rules --max-rollouts $B --tag rules-$B
  python benchmarks/optimizer/run_benchmark.py "$task" --seed 0 --method gepa --max-rollouts $B --tag gepa-$B
done
python benchmarks/optimizer/run_benchmark.py snips --seed 0 --mode auto --max-rollouts $B --tag auto-$B-prior
python benchmarks/optimizer/run_benchmark.py bbh_multistep_arithmetic_two --seed 0 --mode auto --max-rollouts $B --tag auto-$B
