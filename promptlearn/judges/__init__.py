"""Judges: the Judge protocol, code judges, LLM judges, and the panel that combines them."""

from .base import Judge, JudgePanel
from .code import ExactMatch, FunctionJudge, JSONSchemaJudge, NumericTolerance, RegexMatch, normalize_text
from .llm import BinaryVerdict, GradedVerdict, LLMExplainer, LLMJudge

__all__ = ["Judge", "JudgePanel", "ExactMatch", "FunctionJudge", "JSONSchemaJudge", "NumericTolerance",
           "RegexMatch", "normalize_text", "BinaryVerdict", "GradedVerdict", "LLMExplainer", "LLMJudge"]
