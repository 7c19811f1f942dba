"""The weight-tuning methods as bench methods: ``sft``, ``grpo`` and ``promptlearn+sft``.

Their outcome is an adapter, not a prompt: the cell's test set is scored with the seed prompt on
base + adapter, by the transformers engine. A table that mixes engines compares engines, not
methods, so weight methods need ``--engine transformers`` (every method of the run then scores
through it). Budget: ``sft`` sees ``budget`` training examples; ``grpo`` draws ``budget`` samples;
``promptlearn+sft`` spends the budget on the prompt search, then distils with judged samples.
"""

from __future__ import annotations

from dataclasses import replace

from ..agents import first_line
from ..errors import ConfigError
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
    name = "sft"

    def missing(self) -> str | None:
        return _missing()

    def run(self, setup: CellSetup) -> MethodOutcome:
        from ..weights import SFTSettings, train_sft

        settings = SFTSettings(train_system_prompt=setup.single_prompt(self.name), seed=setup.seed)
        summary = train_sft(_model(setup), setup.train, setup.work_dir / "sft", user_template=setup.task.agent.user_template,
                            settings=replace(settings, max_steps=max(1, setup.budget // settings.batch_size)),
                            progress=False)
        return MethodOutcome(best_prompt=setup.seed_prompt, adapter=summary.adapter_dir, rollouts=summary.rollouts,
                             details={"examples_seen": summary.examples_seen, "steps": summary.steps,
                                      "train_wall_s": summary.wall_s})


class GRPOMethod:
    name = "grpo"

    def missing(self) -> str | None:
        return _missing()

    def run(self, setup: CellSetup) -> MethodOutcome:
        from ..weights import GRPOSettings, train_grpo

        task = setup.task
        settings = GRPOSettings(train_system_prompt=setup.single_prompt(self.name), seed=setup.seed,
                                max_completion_length=task.agent.token_cap)
        per_step = settings.prompts_per_step * settings.num_generations
        summary = train_grpo(_model(setup), setup.train, setup.work_dir / "grpo", judges=setup.judges,
                             judge_weights=setup.judge_weights, user_template=task.agent.user_template,
                             parse=first_line if task.agent.parse == "first_line" else None, progress=False,
                             settings=replace(settings, max_steps=max(1, setup.budget // per_step)))
        return MethodOutcome(best_prompt=setup.seed_prompt, adapter=summary.adapter_dir, rollouts=summary.rollouts,
                             details={"examples_seen": summary.examples_seen, "steps": summary.steps,
                                      "train_wall_s": summary.wall_s})


class PromptlearnSFTMethod:
    """promptlearn's prompt, then its judge-approved answers distilled into LoRA (scored without the prompt)."""

    name = "promptlearn+sft"

    def missing(self) -> str | None:
        return _missing()

    def run(self, setup: CellSetup) -> MethodOutcome:
        from ..weights import SFTSettings, train_sft

        seed_prompt = setup.single_prompt(self.name)
        searched = PromptlearnMethod().run(setup)
        assert isinstance(searched.best_prompt, str)
        summary = train_sft(_model(setup), setup.train, setup.work_dir / "sft", user_template=setup.task.agent.user_template,
                            settings=SFTSettings(source="judged", train_system_prompt=seed_prompt, seed=setup.seed),
                            judges=setup.judges, sample_prompt=searched.best_prompt,
                            max_new_tokens=setup.task.agent.token_cap, progress=False)
        return MethodOutcome(best_prompt=seed_prompt, adapter=summary.adapter_dir,
                             rollouts=setup.agent.rollouts + summary.rollouts,
                             details={"teacher_prompt": searched.best_prompt, "approved": summary.approved,
                                      "examples_seen": summary.examples_seen})
