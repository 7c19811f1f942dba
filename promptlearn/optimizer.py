"""The front door: ``PromptOptimizer`` and ``optimize()``.

They check the inputs, build the loop's parts from a config and run :class:`promptlearn.loop.Run`
(the loop itself, in one file). Everything that can be checked without a model call is checked
here, before the first call: examples, the budget, templates, the judges' needs.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Mapping, Sequence

from ._async import run_sync
from ._checks import as_candidate, check_examples, check_rollout_budget, check_run_dir, check_split
from .agents import Agent, Preflight, as_agent
from .callbacks import Callback, ProgressBar
from .config import AUTO_STRATEGIES, DEFAULT_STRATEGIES, DEMO_STRATEGIES, OptimizeConfig
from .data import infer_output_contract
from .demo_sets import DemoSearchProposer, HardCasesProposer, LabelCoverProposer
from .edits import DemoProposer, FormatRepairProposer, MergeProposer, PruneProposer, ReasoningProposer
from .errors import ConfigError
from .glossary import LabelGlossaryProposer
from .judges.base import Judge, JudgePanel
from .judges.llm import LLMExplainer
from .llm import LLM
from .loop import Run
from .proposers import ProposalContext, Proposer, RewriteProposer, RulesetProposer
from .records import Candidate, Evaluation, Example, ExampleResult
from .result import OptimizationResult
from .retrieval import RetrievalAgent, RetrievalProposer
from .steps import LoopParts
from .store import RunStore
from .strategies import (
    ACCEPTANCES,
    CHOOSERS,
    COMPONENT_SELECTORS,
    SAMPLERS,
    SELECTORS,
    VALIDATIONS,
    Acceptance,
    BootstrapAcceptance,
    CandidateSelector,
    ComponentSelector,
    MinibatchSampler,
    StrategyChooser,
    ValidationPolicy,
)
from .vetting import RuleVetter


def build_proposers(cfg: OptimizeConfig, llm: LLM, meta_prompt_dir: str | None = None) -> dict[str, Proposer]:
    """The proposal strategies of ``cfg.mode``, by name, in order of preference."""
    vetter = RuleVetter(llm, meta_prompt_dir=meta_prompt_dir) if cfg.vet_rules else None
    rules = RulesetProposer(llm, max_new_rules=cfg.max_new_rules, max_rules=cfg.max_rules,
                            max_attempts=cfg.proposal_attempts, meta_prompt_dir=meta_prompt_dir, vetter=vetter)
    rewrite = RewriteProposer(llm, max_attempts=cfg.proposal_attempts, meta_prompt_dir=meta_prompt_dir, vetter=vetter)
    if cfg.mode == "rules":
        return {"rules": rules}
    if cfg.mode == "rewrite":
        return {"rewrite": rewrite}
    auto: dict[str, Proposer] = {"format": FormatRepairProposer(), "rules": rules,
                                 "merge": MergeProposer(cfg.max_rules, cfg.max_demos),
                                 "reasoning": ReasoningProposer(), "demos": DemoProposer(cfg.max_demos),
                                 "rewrite": rewrite, "demo_search": DemoSearchProposer(cfg.demo_sets, cfg.max_demos),
                                 "prune": PruneProposer(cfg.demo_sets), "retrieval": RetrievalProposer(),
                                 "cover": LabelCoverProposer(),
                                 "glossary": LabelGlossaryProposer(llm, max_attempts=cfg.proposal_attempts,
                                                                   meta_prompt_dir=meta_prompt_dir),
                                 "hard_cases": HardCasesProposer(cfg.max_demos)}
    assert tuple(auto) == AUTO_STRATEGIES  # one list of names, in one order, for the config and the loop
    chosen = DEFAULT_STRATEGIES if cfg.strategies is None else cfg.strategies
    return {name: proposer for name, proposer in auto.items()
            if name in chosen and (name not in DEMO_STRATEGIES or cfg.max_demos > 0)}


class PromptOptimizer:
    """Optimises an agent's system prompt against judges, within a budget.

    ``agent``: an Agent (e.g. ``ChatAgent``) or a callable ``(candidate, example) -> output``.
    ``judges``: judges whose weighted score (higher is better) the loop maximises.
    ``optimizer_llm``: the rewriter; also the failure explainer unless ``explainer`` is given.
    ``selector``, ``sampler``, ``acceptance``, ``component_selector``, ``validation``: policy objects overriding
    the config's named ones.
    The seed may be a prompt string, a mapping of named prompts (``{"plan": ..., "answer": ...}``)
    for an agent with several (see ``PipelineAgent``), or a Candidate.
    """

    def __init__(self, agent: Agent | Any, judges: Judge | Sequence[Judge], *, optimizer_llm: LLM | None = None,
                 config: OptimizeConfig | None = None, judge_weights: Sequence[float] | None = None,
                 proposer: Proposer | None = None, explainer: LLMExplainer | None = None,
                 callbacks: Sequence[Callback] = (), meta_prompt_dir: str | None = None,
                 selector: CandidateSelector | None = None, sampler: MinibatchSampler | None = None,
                 acceptance: Acceptance | None = None, component_selector: ComponentSelector | None = None,
                 validation: ValidationPolicy | None = None):
        if config is not None and not isinstance(config, OptimizeConfig):
            raise ConfigError(f"config must be an OptimizeConfig, got {type(config).__name__}"
                              + (": use OptimizeConfig(**your_dict)" if isinstance(config, Mapping) else ""))
        if optimizer_llm is not None and not isinstance(optimizer_llm, LLM):
            raise ConfigError(f"optimizer_llm must be an LLM, e.g. LLM({optimizer_llm!r})" if isinstance(optimizer_llm, str)
                              else f"optimizer_llm must be an LLM, got {type(optimizer_llm).__name__}")
        self.config = config or OptimizeConfig()
        cfg = self.config
        self.agent = as_agent(agent)
        self.panel = JudgePanel([judges] if isinstance(judges, Judge) else list(judges), judge_weights)
        if proposer is not None:
            self.proposers: dict[str, Proposer] = {getattr(proposer, "name", "") or "custom": proposer}
        elif optimizer_llm is None:
            raise ConfigError("pass optimizer_llm (the rewriter model) or a proposer")
        else:
            self.proposers = build_proposers(cfg, optimizer_llm, meta_prompt_dir)
        if explainer is None and optimizer_llm is not None and cfg.explain_failures > 0:
            explainer = LLMExplainer(optimizer_llm.with_role("judge"), task=cfg.task_description)
        self.explainer = explainer
        #: The training examples retrieving candidates show (set by ``optimize``; ``evaluate`` uses them too).
        self.retrieval_pool: list[Example] | None = None
        self.callbacks = list(callbacks)
        self.selector: CandidateSelector = selector or SELECTORS[cfg.selector]()
        self.sampler: MinibatchSampler = sampler or SAMPLERS[cfg.sampler]()
        self.chooser: StrategyChooser = CHOOSERS[cfg.strategy_chooser]()
        self.component_selector: ComponentSelector = component_selector or COMPONENT_SELECTORS[cfg.component_selection]()
        self.acceptance: Acceptance = acceptance or (
            BootstrapAcceptance(cfg.acceptance_confidence) if cfg.acceptance == "bootstrap" else ACCEPTANCES[cfg.acceptance]())
        self.validation: ValidationPolicy = validation or VALIDATIONS[cfg.validation]()

    def parts(self) -> LoopParts:
        return LoopParts(agent=self.agent, panel=self.panel, proposers=self.proposers, explainer=self.explainer,
                         selector=self.selector, sampler=self.sampler, acceptance=self.acceptance,
                         chooser=self.chooser, component_selector=self.component_selector,
                         validation=self.validation, config=self.config, callbacks=tuple(self.callbacks))

    def optimize(self, seed_prompt: str | Mapping[str, str] | Candidate, train: Sequence[Example],
                 val: Sequence[Example], *,
                 run_dir: str | None = None, resume: bool = False) -> OptimizationResult:
        """Sync wrapper of ``aoptimize`` for scripts and notebooks."""
        return run_sync(self.aoptimize(seed_prompt, train, val, run_dir=run_dir, resume=resume))

    async def aoptimize(self, seed_prompt: str | Mapping[str, str] | Candidate, train: Sequence[Example],
                        val: Sequence[Example], *,
                        run_dir: str | None = None, resume: bool = False) -> OptimizationResult:
        """Optimise ``seed_prompt``. Checks that need no model call come first (ConfigError)."""
        seed = as_candidate(seed_prompt)
        check_run_dir(run_dir)
        check_examples(train, val)
        check_rollout_budget(self.config.budget.max_rollouts, len(val), self.config.minibatch_size)
        self.preflight(seed, [*train, *val])
        store = RunStore(run_dir, resume=resume)
        parts = self.parts()
        if "retrieval" in self.proposers or any(c.retrieve for c in seed.components.values()):
            self.retrieval_pool = list(train)
            parts = replace(parts, agent=self._retrieving(self.agent))
        try:
            return await Run(parts, seed, list(train), list(val), store).execute()
        finally:
            store.close()

    def _retrieving(self, agent: Agent) -> Agent:
        """``agent`` showing each candidate's retrieved examples from ``retrieval_pool`` (itself if it already does)."""
        if isinstance(agent, RetrievalAgent):
            return agent
        if self.retrieval_pool is None:
            raise ConfigError("this candidate shows retrieved training examples (retrieve > 0): evaluate it after "
                              "optimize() on the same optimizer, or wrap the agent: RetrievalAgent(agent, train, k=None)")
        return RetrievalAgent(agent, self.retrieval_pool, k=None)

    def preflight(self, seed: Candidate, examples: Sequence[Example]) -> None:
        """Checks that need no model call: the agent's templates render and the judges have what they need."""
        if isinstance(self.agent, Preflight):
            self.agent.preflight(seed, examples)
        self.panel.preflight(examples)
        train = [e for e in examples if e.reference is not None][:2] or list(examples[:2])
        context = ProposalContext(iteration=0, train=train, task_description=self.config.task_description,
                                  output_contract=self.config.output_contract or infer_output_contract(train))
        for proposer in self.proposers.values():
            check_proposer = getattr(proposer, "preflight", None)
            if check_proposer is not None:
                check_proposer(seed if len(seed.components) == 1 else seed.focus(seed.main), train, context)
        if self.explainer is not None and hasattr(self.explainer, "preflight"):
            self.explainer.preflight(train)

    def evaluate(self, prompt: str | Mapping[str, str] | Candidate, examples: Sequence[Example]) -> Evaluation:
        return run_sync(self.aevaluate(prompt, examples))

    async def aevaluate(self, prompt: str | Mapping[str, str] | Candidate, examples: Sequence[Example], *, split: str = "test"
                        ) -> Evaluation:
        """Score a prompt on examples (e.g. a held-out test set) with this optimizer's agent and judges."""
        candidate = as_candidate(prompt)
        check_split(examples, "examples", unique_ids=False)  # scored by id: a repeat is scored once
        parts, sem = self.parts(), asyncio.Semaphore(self.config.concurrency)
        if any(c.retrieve for c in candidate.components.values()):
            parts = replace(parts, agent=self._retrieving(self.agent))

        async def one(example: Example) -> ExampleResult:
            async with sem:
                return await parts.score(candidate, example)

        results = await asyncio.gather(*(one(e) for e in examples))
        return Evaluation(candidate_id=candidate.id, split=split, results={e.id: r for e, r in zip(examples, results)})


def optimize(agent: Agent | Any, seed_prompt: str | Mapping[str, str] | Candidate, train: Sequence[Example],
             val: Sequence[Example], *,
             judges: Judge | Sequence[Judge], optimizer_llm: LLM | None = None, config: OptimizeConfig | None = None,
             run_dir: str | None = None, resume: bool = False, progress: bool = True,
             judge_weights: Sequence[float] | None = None, proposer: Proposer | None = None,
             explainer: LLMExplainer | None = None, callbacks: Sequence[Callback] = (),
             meta_prompt_dir: str | None = None, selector: CandidateSelector | None = None,
             sampler: MinibatchSampler | None = None, acceptance: Acceptance | None = None,
             component_selector: ComponentSelector | None = None,
             validation: ValidationPolicy | None = None) -> OptimizationResult:
    """One call: optimise ``seed_prompt`` for ``agent`` on ``train``, keeping what wins on ``val``.

    Sync; from async code use ``PromptOptimizer(...).aoptimize``. The keywords after ``progress``
    are PromptOptimizer's.
    """
    optimizer = PromptOptimizer(agent, judges, optimizer_llm=optimizer_llm, config=config, judge_weights=judge_weights,
                                proposer=proposer, explainer=explainer,
                                callbacks=[*callbacks, *([ProgressBar()] if progress else [])],
                                meta_prompt_dir=meta_prompt_dir, selector=selector, sampler=sampler,
                                acceptance=acceptance, component_selector=component_selector, validation=validation)
    return optimizer.optimize(seed_prompt, train, val, run_dir=run_dir, resume=resume)
