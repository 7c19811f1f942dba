#!/usr/bin/env bash
# Auto mode (the strategy portfolio) against rules mode at the same rollout budget, on tasks where the
# seed fails on format (BBH multiple choice, numeric) and on SNIPS (keyword rules work there).
# Each run is resumable (benchmarks/runs/<name>/) and writes benchmarks/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-200}
for task in bbh_logical_deduction_three_objects bbh_temporal_sequences bbh_multistep_arithmetic_two snips; do
  for mode in auto rules; do
    if [ "$task" = snips ] && [ "$mode" = rules ]; then continue; fi  # rules on SNIPS: benchmarks/README.md
    python benchmarks/run_benchmark.py "$task" --seed 0 --mode "$mode" --max-rollouts "$BUDGET" --tag "$mode-$BUDGET"
  done
done
