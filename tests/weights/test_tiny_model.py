"""Real SFT and GRPO steps on a tiny causal LM built inside the test (no download, no GGUF): training must
change the LoRA weights, lower the SFT loss and raise the GRPO reward on a toy task.

The model is a 2-layer Qwen2 with a byte-level BPE tokenizer trained on the toy words, so transformers
loads it through the same Qwen2 classes as the real 0.5B; a few seconds per test on a CPU.
"""

import asyncio
import json
from pathlib import Path

import pytest

from promptlearn import Candidate, Example, FunctionJudge
from promptlearn.weights import GRPOSettings, SFTSettings, train_grpo, train_sft, transformers_agent

pytestmark = pytest.mark.weights
WORDS = "system: user: assistant: the light is red green yellow stop go wait".split()
TRAIN = [Example(id=f"e{i}", inputs={"input": f"the light is {colour}"}, reference=answer)
         for i, (colour, answer) in enumerate([("red", "stop"), ("green", "go"), ("yellow", "wait")] * 2)]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder = tmp_path_factory.mktemp("tiny-qwen2")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([" ".join(WORDS)] * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<unk>", "<eos>"], show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} {% endfor %}"
                               "{% if add_generation_prompt %}assistant: {% endif %}")
    torch.manual_seed(0)
    # initializer_range 0.2 (not 0.02): a near-uniform random model gives a LoRA almost nothing to move.
    config = Qwen2Config(vocab_size=bpe.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=True, initializer_range=0.2, pad_token_id=0, eos_token_id=2)
    Qwen2ForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def _lora_b_norm(adapter_dir) -> float:
    from safetensors.torch import load_file

    weights = load_file(f"{adapter_dir}/adapter_model.safetensors")
    return sum(float(t.abs().sum()) for name, t in weights.items() if "lora_B" in name)


def test_sft_steps_move_the_lora_and_lower_the_loss(tiny_model, tmp_path):
    summary = train_sft(tiny_model, TRAIN, tmp_path / "sft", max_new_tokens=3, progress=False,
                        settings=SFTSettings(max_steps=60, batch_size=3, learning_rate=5e-2, checkpoint_every=100))
    assert summary.steps == 60 and summary.examples_seen == 180 and summary.device == "cpu"
    assert sum(summary.losses[-5:]) / 5 < 0.5 * summary.losses[0], summary.losses  # it learned the answers' tokens
    assert _lora_b_norm(summary.adapter_dir) > 0  # LoRA's B starts at zero: nonzero means the steps changed it
    tuned = transformers_agent(tiny_model, adapter=summary.adapter_dir, max_tokens=3)
    base = transformers_agent(tiny_model, max_tokens=3)
    outputs = {name: [asyncio.run(agent.arun(Candidate.create(""), e)).output for e in TRAIN[:3]]
               for name, agent in (("tuned", tuned), ("base", base))}
    assert outputs["tuned"] != outputs["base"], outputs


def test_grpo_steps_raise_the_judges_reward(tiny_model, tmp_path):
    def has_an_o(example, output):  # a dense toy reward, so a random model sees some variance to learn from
        return float("o" in output), "the answer has an o" if "o" in output else "no o in the answer"

    per_step = 2 * 8
    summary = train_grpo(tiny_model, TRAIN, tmp_path / "grpo", judges=FunctionJudge(has_an_o), progress=False,
                         settings=GRPOSettings(max_steps=12, prompts_per_step=2, num_generations=8, learning_rate=5e-2,
                                               max_completion_length=2, temperature=1.0, checkpoint_every=100))
    rewards = [json.loads(line)["reward"] for line in (tmp_path / "grpo" / "rewards.jsonl").read_text().splitlines()]
    assert summary.steps == 12 and summary.rollouts == len(rewards) == 12 * per_step
    first, last = sum(rewards[:4 * per_step]) / (4 * per_step), sum(rewards[-4 * per_step:]) / (4 * per_step)
    assert last >= first + 0.3, (first, last)
    assert _lora_b_norm(summary.adapter_dir) > 0


def test_concurrent_rollouts_on_a_fresh_agent_all_succeed(tiny_model):
    # In a fresh process the first rollouts race transformers' lazy imports and the tokenizer; they failed
    # ("cannot import name 'AutoModelForCausalLM'") until loading and generating shared one lock.
    import subprocess
    import sys

    code = f"""
import asyncio
from promptlearn import Candidate, Example
from promptlearn.weights import transformers_agent
agent = transformers_agent({str(tiny_model)!r}, max_tokens=2)
async def main():
    examples = [Example(id=str(i), inputs={{"input": "the light is red"}}) for i in range(8)]
    return await asyncio.gather(*(agent.arun(Candidate.create(""), e) for e in examples))
errors = [r.error for r in asyncio.run(main()) if r.error]
assert not errors, errors
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_out_of_memory_stops_with_the_checkpoint_named_and_the_run_resumes_from_it(tiny_model, tmp_path, monkeypatch):
    import promptlearn.weights.sft as sft
    from promptlearn.weights import TrainingError

    real_step, calls = sft._step, []

    def step_then_run_out(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(sft, "_step", step_then_run_out)
    settings = SFTSettings(max_steps=4, batch_size=3, learning_rate=5e-2, checkpoint_every=1)
    with pytest.raises(TrainingError, match=r"out of memory at step 3.*checkpoint-2"):
        train_sft(tiny_model, TRAIN, tmp_path / "sft", max_new_tokens=2, progress=False, settings=settings)
    monkeypatch.setattr(sft, "_step", real_step)
    summary = train_sft(tiny_model, TRAIN, tmp_path / "sft", max_new_tokens=2, progress=False, settings=settings)
    assert summary.resumed_from == 2 and summary.steps == 4 and len(summary.losses) == 4


def _tokenizer(folder, template: str | None = None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if template is not None:
        tokenizer.add_special_tokens({"additional_special_tokens": ["<end>"]})
        tokenizer.chat_template = template
    return tokenizer


def test_sft_ends_the_answer_with_the_templates_end_of_turn_not_the_eos(tiny_model):
    # The first GPU run trained Qwen2.5 on "answer<|endoftext|>" where its template ends a turn with <|im_end|>;
    # generation ran on past the answer and scored 0%.
    from promptlearn.weights.sft import _encode

    closing = _tokenizer(tiny_model, "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}<end>{% endfor %}"
                                     "{% if add_generation_prompt %}assistant: {% endif %}")
    messages = [{"role": "user", "content": "the light is red"}]
    ids, labels = _encode(closing, messages, "stop", 512)
    reply = [t for t in labels if t != -100]
    assert closing.decode(reply) == "stop<end>"
    assert closing.eos_token_id not in reply and len(ids) == len(labels)
    # A template that closes no turn: the eos ends the answer, as before.
    ids, labels = _encode(_tokenizer(tiny_model), messages, "stop", 512)
    reply = [t for t in labels if t != -100]
    assert reply[-1] == _tokenizer(tiny_model).eos_token_id and "stop" in _tokenizer(tiny_model).decode(reply)


def test_a_loss_that_is_not_finite_stops_training_before_it_reaches_the_weights(tiny_model, tmp_path):
    from promptlearn.weights import TrainingError

    settings = SFTSettings(max_steps=3, batch_size=3, learning_rate=1e30, checkpoint_every=1)
    with pytest.raises(TrainingError, match=r"the loss became (nan|inf) at step \d.*checkpoint"):
        train_sft(tiny_model, TRAIN, tmp_path / "sft", max_new_tokens=2, progress=False, settings=settings)


def test_the_transformers_backend_serves_the_llm_layer_with_its_cache_and_usage(tiny_model, tmp_path):
    """Issue 27: transformers is a backend of the one LLM layer, so ChatAgent, the cache and the usage meter work on
    it unchanged; an adapter is another model (its weights' hash is in the model string the cache keys on)."""
    from promptlearn import LLM, ChatAgent, Usage
    from promptlearn.weights import TransformersBackend

    usage = Usage()
    backend = TransformersBackend(tiny_model)
    llm = LLM(backend.name, backend=backend, cache=tmp_path / "cache.sqlite", usage=usage, role="agent")
    agent = ChatAgent(llm, "{{ input }}", max_tokens=2)
    first = asyncio.run(agent.arun(Candidate.create(""), TRAIN[0]))
    again = asyncio.run(agent.arun(Candidate.create(""), TRAIN[0]))
    assert first.error is None and again.output == first.output
    row = usage.snapshot()["agent"]
    assert row["calls"] == 1 and row["cache_hits"] == 1 and usage.total().tokens > 0  # the second call: cached
    assert first.trace[0] == {"role": "system", "content": ""}  # sent as ChatAgent sends it; the backend drops it
    summary = train_sft(tiny_model, TRAIN, tmp_path / "sft", max_new_tokens=2, progress=False,
                        settings=SFTSettings(max_steps=2, batch_size=3, checkpoint_every=100))
    tuned = TransformersBackend(tiny_model, adapter=summary.adapter_dir)
    assert tuned.name.startswith(f"{backend.name}+{Path(summary.adapter_dir).name}@") and len(tuned.name.split("@")[1]) == 12


def test_the_comparison_runs_each_arm_as_the_bench_method_of_that_name(tiny_model, tmp_path):
    """compare_prompt_vs_weights is one harness with the bench (issue 27): its arms are the bench's methods,
    promptlearn+sft resumes promptlearn's finished search, and a rerun skips finished arms."""
    from promptlearn import FakeLLM, OptimizeConfig
    from promptlearn.weights import compare_prompt_vs_weights

    answers = {"red": "stop", "green": "go", "yellow": "wait"}

    def agent(request):  # the prompt search's agent (a fake; the arms are scored on the tiny model)
        return answers[request.messages[-1]["content"].split()[-1]]

    rewriter = FakeLLM(lambda request: '{"analysis": "-", "new_rules": [], "delete": []}', role="optimizer")
    def approves(example, output):  # the tiny model's samples must pass for promptlearn+sft to have data
        return 1.0

    common = dict(judges=[FunctionJudge(approves)], seed_prompt="Answer.", output_dir=tmp_path / "cmp", budgets=[6],
                  config=OptimizeConfig(minibatch_size=2, max_iterations=1, explain_failures=0),
                  sft=SFTSettings(batch_size=2, samples_per_example=1),
                  grpo=GRPOSettings(prompts_per_step=1, num_generations=2, max_completion_length=2),
                  progress=False)
    train, val = TRAIN[:4], TRAIN[4:]
    frame = compare_prompt_vs_weights(tiny_model, train, val, TRAIN[:3], agent_llm=FakeLLM(agent),
                                      optimizer_llm=rewriter, **common)
    arms = {row["method"]: row for row in frame.to_dict("records")}
    assert list(arms) == ["seed", "promptlearn", "sft", "grpo", "promptlearn+sft"]
    assert arms["sft"]["rollouts"] == 0 and arms["sft"]["examples_seen"] == 6  # 6 references (a budget of 6 examples)
    assert arms["grpo"]["rollouts"] == 6 and arms["promptlearn"]["rollouts"] > 0
    assert arms["promptlearn+sft"]["rollouts"] >= arms["promptlearn"]["rollouts"]
    assert all(arms[m]["adapter"] for m in ("sft", "grpo", "promptlearn+sft")) and not isinstance(arms["seed"]["adapter"], str)
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir() if p.is_dir()) == ["grpo-6", "promptlearn-6", "sft-6"]
    again = compare_prompt_vs_weights(tiny_model, train, val, TRAIN[:3], **common)  # finished: no LLM needed
    columns = ["method", "test", "rollouts", "examples_seen", "adapter", "tokens"]
    assert again[columns].equals(frame[columns])
