"""promptlearn: make an LLM agent better at a task without changing its weights.

Judges explain what went wrong; meta-prompts turn those critiques into prompt
rules or rewrites; a rewrite is kept only if it wins on held-out data.
"""

from ._version import __version__
from .agents import Agent, ChatAgent, FunctionAgent
from .callbacks import Callback, EventLog, ProgressBar
from .config import Budget, OptimizeConfig
from .data import load_examples, split_examples
from .errors import (
                     BudgetExceeded,
                     ChecksumError,
                     ConfigError,
                     LLMCallError,
                     ModelNotFoundError,
                     PromptlearnError,
                     StructuredOutputError,
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
from .records import Candidate, Critique, Evaluation, Example, ExampleResult, Rollout, Rule
from .result import OptimizationResult

__all__ = [
    "__version__",
    # models
    "LLM", "FakeLLM", "Usage",
    # records and data
    "Example", "Candidate", "Rule", "Rollout", "Critique", "ExampleResult", "Evaluation",
    "load_examples", "split_examples",
    # agents and judges
    "Agent", "ChatAgent", "FunctionAgent",
    "Judge", "JudgePanel", "ExactMatch", "RegexMatch", "NumericTolerance", "JSONSchemaJudge", "FunctionJudge",
    "LLMJudge", "LLMExplainer",
    # the loop
    "optimize", "PromptOptimizer", "OptimizeConfig", "Budget", "OptimizationResult",
    "Callback", "ProgressBar", "EventLog",
    # errors
    "PromptlearnError", "ConfigError", "ModelNotFoundError", "ChecksumError", "LLMCallError",
    "StructuredOutputError", "BudgetExceeded",
]
