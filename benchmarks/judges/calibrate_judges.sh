#!/usr/bin/env bash
# Every row of the judge-agreement table in judges/README.md, in one resumable queue.
# Rows whose report already exists are skipped; delete a report to measure it again.
#   bash benchmarks/judges/calibrate_judges.sh            # all rows (about 2 hours on 2 CPU cores)
# Runs one model at a time: two llama.cpp processes on the same cores slow each other badly.
set -euo pipefail
cd "$(dirname "$0")/../.."
CAL=benchmarks/judges/calibration
OUT=$CAL/results
M15=local/qwen2.5-coder-1.5b
M05=local/qwen2.5-coder-0.5b
mkdir -p "$OUT"

[ -f $CAL/ifeval.jsonl ] || python benchmarks/judges/make_judge_data.py ifeval
[ -f $CAL/hotpotqa_faithfulness.jsonl ] || python benchmarks/judges/make_judge_data.py hotpotqa
[ -f $CAL/snips_pairwise.jsonl ] || python benchmarks/judges/make_judge_data.py snips_pairs --run-dir benchmarks/optimizer/runs/snips-seed0-head

row() {  # row REPORT_NAME JUDGE DATA MODEL [extra args...]
  local report=$OUT/$1.json judge=$2 data=$3 model=$4
  shift 4
  if [ -f "$report" ]; then echo "skip $report"; return; fi
  echo "== $report"
  promptlearn judges calibrate "$judge" --data "$data" --model "$model" --limit 20 --no-cache \
    --output "$report" "$@" > /dev/null
}

# The first correctness prompt (library `correctness` until issue 4's calibration).
row correctness_v1-1.5b-bbh_boolean benchmarks/judges/judge_variants/correctness_v1.yaml $CAL/bbh_boolean_expressions.jsonl $M15
row correctness_v1-1.5b-bbh_boolean-sc5 benchmarks/judges/judge_variants/correctness_v1.yaml $CAL/bbh_boolean_expressions.jsonl $M15 --samples 5
row correctness_compare-1.5b-bbh_boolean benchmarks/judges/judge_variants/correctness_compare.yaml $CAL/bbh_boolean_expressions.jsonl $M15
row faithfulness-1.5b-hotpotqa faithfulness $CAL/hotpotqa_faithfulness.jsonl $M15
row rule_compliance-1.5b-ifeval rule_compliance $CAL/ifeval.jsonl $M15
row format_compliance-1.5b-ifeval format_compliance $CAL/ifeval.jsonl $M15
row criteria-1.5b-ifeval criteria $CAL/ifeval.jsonl $M15
row pairwise-1.5b-snips pairwise $CAL/snips_pairwise.jsonl $M15
row faithfulness_claims_only-1.5b-hotpotqa benchmarks/judges/judge_variants/faithfulness_claims_only.yaml $CAL/hotpotqa_faithfulness.jsonl $M15
row rule_compliance_evidence-1.5b-ifeval benchmarks/judges/judge_variants/rule_compliance_evidence.yaml $CAL/ifeval.jsonl $M15
row label_correctness-1.5b-snips label_correctness $CAL/snips.jsonl $M15
# GSM8K outputs are long (about 300 tokens): generated late, judged last among the 1.5B rows.
[ -f $CAL/gsm8k.jsonl ] || python benchmarks/judges/make_judge_data.py gsm8k
row correctness_v1-1.5b-gsm8k benchmarks/judges/judge_variants/correctness_v1.yaml $CAL/gsm8k.jsonl $M15
row correctness_compare-1.5b-gsm8k benchmarks/judges/judge_variants/correctness_compare.yaml $CAL/gsm8k.jsonl $M15
# Schema change: the LLM only extracts the final answer, code compares (library judge answer_match).
# Its first prompt showed the reference; the 1.5B copied it as the answer of cut-off outputs.
row answer_match_sees_reference-1.5b-gsm8k benchmarks/judges/judge_variants/answer_match_sees_reference.yaml $CAL/gsm8k.jsonl $M15
row answer_match_sees_reference-1.5b-bbh_boolean benchmarks/judges/judge_variants/answer_match_sees_reference.yaml $CAL/bbh_boolean_expressions.jsonl $M15
# The 0.5B for contrast, and the format judge without its code checks.
row faithfulness-0.5b-hotpotqa faithfulness $CAL/hotpotqa_faithfulness.jsonl $M05
row rule_compliance-0.5b-ifeval rule_compliance $CAL/ifeval.jsonl $M05
row pairwise-0.5b-snips pairwise $CAL/snips_pairwise.jsonl $M05
row format_compliance_llm_only-1.5b-ifeval benchmarks/judges/judge_variants/format_compliance_llm_only.yaml $CAL/ifeval.jsonl $M15
row correctness_v1-0.5b-gsm8k benchmarks/judges/judge_variants/correctness_v1.yaml $CAL/gsm8k.jsonl $M05
row correctness_v1-0.5b-bbh_boolean benchmarks/judges/judge_variants/correctness_v1.yaml $CAL/bbh_boolean_expressions.jsonl $M05
row label_correctness-0.5b-snips label_correctness $CAL/snips.jsonl $M05
# Hiding the reference alone, before the code check that the answer was really copied from the output.
row answer_match_no_copy_check-1.5b-bbh_boolean answer_match $CAL/bbh_boolean_expressions.jsonl $M15 --param copy_check=false
# The library judges as they ship after the calibration (correctness = the correctness_compare prompt).
row answer_match-1.5b-bbh_boolean answer_match $CAL/bbh_boolean_expressions.jsonl $M15
row answer_match-1.5b-gsm8k answer_match $CAL/gsm8k.jsonl $M15
row correctness-1.5b-bbh_boolean correctness $CAL/bbh_boolean_expressions.jsonl $M15
row correctness-1.5b-gsm8k correctness $CAL/gsm8k.jsonl $M15
row correctness-0.5b-bbh_boolean correctness $CAL/bbh_boolean_expressions.jsonl $M05
row correctness-0.5b-gsm8k correctness $CAL/gsm8k.jsonl $M05
row correctness-1.5b-bbh_boolean-sc5 correctness $CAL/bbh_boolean_expressions.jsonl $M15 --samples 5
echo done
