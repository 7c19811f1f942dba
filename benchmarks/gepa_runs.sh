#!/usr/bin/env bash
# gepa.optimize on the same contract as promptlearn (gepa_arm.py) at the same rollout budget, on the tasks of
# portfolio_runs.sh; then promptlearn auto mode again on the first task at the current commit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-200}
for task in bbh_logical_deduction_three_objects bbh_temporal_sequences bbh_multistep_arithmetic_two; do
  python benchmarks/run_benchmark.py "$task" --seed 0 --method gepa --max-rollouts "$BUDGET" --tag "gepa-$BUDGET"
done
python benchmarks/run_benchmark.py bbh_logical_deduction_three_objects --seed 0 --mode auto --max-rollouts "$BUDGET" \
  --tag "auto-$BUDGET-demos800"
