"""promptlearn.weights without torch: the missing-extra error, model folder checks, settings."""

import subprocess
import sys

import pytest

from promptlearn import ConfigError
from promptlearn.weights import WEIGHTS_EXTRA, GRPOSettings, require
from promptlearn.weights.models import check_causal_lm, hf_model


def test_a_missing_extra_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ConfigError, match=r'peft: pip install "promptlearn\[weights\]"'):
        require()
    assert WEIGHTS_EXTRA == 'pip install "promptlearn[weights]"'


def test_model_folders_must_hold_a_causal_lm(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        check_causal_lm(tmp_path)
    (tmp_path / "config.json").write_text('{"architectures": ["BertForSequenceClassification"]}')
    with pytest.raises(ConfigError, match="not a causal language model"):
        hf_model(tmp_path)
    (tmp_path / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    assert hf_model(tmp_path) == tmp_path
    with pytest.raises(ConfigError, match="neither a model folder nor an embedded model"):
        hf_model("local/no-such-model")


def test_grpo_counts_every_sample_as_a_rollout():
    assert GRPOSettings(max_steps=5, prompts_per_step=2, num_generations=4).rollouts == 40


def test_importing_the_weights_package_loads_no_torch():
    code = "import sys, promptlearn.weights as w; w.SFTSettings(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
