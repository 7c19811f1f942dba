"""The weight-tuning methods as bench methods: ``sft``, ``grpo`` and ``promptlearn+sft``.

Their outcome is an adapter, not a prompt: the cell's test set is scored with the seed prompt on
base + adapter, by the transformers engine. A table that mixes engines compares engines, not
methods, so weight methods need ``--engine transformers`` (every method of the run then scores
through it). Budget: ``sft`` sees ``budget`` training examples; ``grpo`` draws ``budget`` samples;
``promptlearn+sft`` spends the budget on the prompt search, then distils with judged samples.
"""

from __future__ import annotations

from dataclasses import replace

from ..config import OptimizeConfig
from ..errors import ConfigError
from ..weights.config import GRPOSettings, SFTSettings
from .methods import CellSetup, MethodOutcome, PromptlearnMethod


def _missing() -> str | None:
    from ..weights import require

    try:
        require("torch", "transformers", "peft", "trl", "datasets")
    except ConfigError as exc:
        return str(exc)
    return None


def _model(setup: CellSetup) -> str:
    model = setup.engine_model
    if model is None:
        raise ConfigError("weight methods need --engine transformers (every arm scored by one engine)")
    return model


class SFTMethod:
    """LoRA SFT on the training split's references; ``settings`` (default: the seed prompt as the training
    system message, the cell's seed) with ``max_steps`` set from the budget."""

    name = "sft"

    def __init__(self, settings: SFTSettings | None = None):
        self.settings = settings

    def missing(self) -> str | None:
        return _missing()

    def run(self, setup: CellSetup) -> MethodOutcome:
        from ..weights.sft import train_sft

        settings = self.settings or SFTSettings(train_system_prompt=setup.single_prompt(self.name), seed=setup.seed)
        summary = train_sft(_model(setup), setup.train, setup.work_dir / "sft", user_template=setup.task.agent.user_template,
                            settings=replace(settings, max_steps=max(1, setup.budget // settings.batch_size)),
                            progress=setup.progress)
        return MethodOutcome(best_prompt=setup.seed_prompt, adapter=summary.adapter_dir, rollouts=summary.rollouts,
                             details={"examples_seen": summary.examples_seen, "steps": summary.steps,
                                      "train_wall_s": summary.wall_s, "train_tokens": summary.train_tokens})


class GRPOMethod:
    """TRL's GRPO with the cell's judges as reward; ``budget`` samples (``max_steps`` from the budget)."""

    name = "grpo"

    def __init__(self, settings: GRPOSettings | None = None):
        self.settings = settings

    def missing(self) -> str | None:
        return _missing()

    def run(self, setup: CellSetup) -> MethodOutcome:
        from ..weights.grpo import train_grpo

        task = setup.task
        settings = self.settings or GRPOSettings(train_system_prompt=setup.single_prompt(self.name), seed=setup.seed,
                                                 max_completion_length=task.agent.token_cap)
        per_step = settings.prompts_per_step * settings.num_generations
        summary = train_grpo(_model(setup), setup.train, setup.work_dir / "grpo", judges=setup.judges,
                             judge_weights=setup.judge_weights, user_template=task.agent.user_template,
                             parse=task.agent.parser, progress=setup.progress,
                             settings=replace(settings, max_steps=max(1, setup.budget // per_step)))
        return MethodOutcome(best_prompt=setup.seed_prompt, adapter=summary.adapter_dir, rollouts=summary.rollouts,
                             details={"examples_seen": summary.examples_seen, "steps": summary.steps,
                                      "train_wall_s": summary.wall_s, "train_tokens": summary.train_tokens})


class PromptlearnSFTMethod:
    """promptlearn's prompt, then its judge-approved answers distilled into LoRA (scored without the prompt)."""

    name = "promptlearn+sft"

    def __init__(self, settings: SFTSettings | None = None, config: OptimizeConfig | None = None):
        self.settings, self.config = settings, config

    def missing(self) -> str | None:
        return _missing()

    def run(self, setup: CellSetup) -> MethodOutcome:
        from ..weights.sft import train_sft

        seed_prompt = setup.single_prompt(self.name)
        searched = PromptlearnMethod(config=self.config).run(setup)
        assert isinstance(searched.best_prompt, str)
        settings = replace(self.settings or SFTSettings(seed=setup.seed), source="judged",
                           train_system_prompt=seed_prompt)
        summary = train_sft(_model(setup), setup.train, setup.work_dir / "sft", user_template=setup.task.agent.user_template,
                            settings=settings, judges=setup.judges, sample_prompt=searched.best_prompt,
                            max_new_tokens=setup.task.agent.token_cap, progress=setup.progress)
        # The search's rollouts from the loop's meter (a resumed search replays them without agent calls).
        return MethodOutcome(best_prompt=seed_prompt, adapter=summary.adapter_dir,
                             rollouts=(searched.rollouts or 0) + summary.rollouts,
                             details={"teacher_prompt": searched.best_prompt, "approved": summary.approved,
                                      "examples_seen": summary.examples_seen, "search_tokens": searched.tokens,
                                      "train_tokens": summary.train_tokens})
