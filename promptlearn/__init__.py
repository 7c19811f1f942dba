"""promptlearn: make an LLM agent better at a task without changing its weights.

Judges explain what went wrong; meta-prompts turn those critiques into prompt
rules or rewrites; a rewrite is kept only if it wins on held-out data.
"""

from . import _redaction  # noqa: F401  (installs the log redaction filter on the promptlearn logger)
from ._version import __version__
from .agents import Agent, ChatAgent, FunctionAgent, record_step
from .callbacks import Callback, EventLog, LoopEvent, ProgressBar, RunView
from .config import Budget, OptimizeConfig
from .data import load_examples, split_examples
from .errors import (
                     ChecksumError,
                     ConfigError,
                     JudgeError,
                     LLMCallError,
                     ModelNotFoundError,
                     PromptlearnError,
                     RunError,
                     StructuredOutputError,
                     TransientError,
)
from .judges import (
                     ExactMatch,
                     FunctionJudge,
                     JSONSchemaJudge,
                     Judge,
                     JudgePanel,
                     LLMExplainer,
                     LLMJudge,
                     NumericTolerance,
                     RegexMatch,
)
from .llm import LLM, FakeLLM, Usage
from .optimizer import PromptOptimizer, optimize
from .pipeline import PipelineAgent, Step
from .records import (
                     Candidate,
                     Component,
                     Cost,
                     Critique,
                     Evaluation,
                     Example,
                     ExampleResult,
                     Proposal,
                     Rollout,
                     RoundRecord,
                     Rule,
)
from .result import OptimizationResult, PairedGain
from .retrieval import RetrievalAgent
from .tracking import MLflowCallback

__all__ = [
    "__version__",
    # models
    "LLM", "FakeLLM", "Usage",
    # records and data
    "Example", "Candidate", "Component", "Rule", "Rollout", "Critique", "ExampleResult", "Evaluation", "Cost", "Proposal",
    "RoundRecord",
    "load_examples", "split_examples",
    # agents and judges
    "Agent", "ChatAgent", "FunctionAgent", "PipelineAgent", "Step", "RetrievalAgent", "record_step",
    "Judge", "JudgePanel", "ExactMatch", "RegexMatch", "NumericTolerance", "JSONSchemaJudge", "FunctionJudge",
    "LLMJudge", "LLMExplainer",
    # the loop
    "optimize", "PromptOptimizer", "OptimizeConfig", "Budget", "OptimizationResult", "PairedGain",
    "Callback", "ProgressBar", "EventLog", "LoopEvent", "RunView", "MLflowCallback",
    # errors
    "PromptlearnError", "ConfigError", "RunError", "ModelNotFoundError", "ChecksumError", "LLMCallError",
    "StructuredOutputError", "TransientError", "JudgeError",
]
