"""Judges: the Judge protocol, code judges, LLM judges, and the panel that combines them."""

from .base import Judge, JudgePanel
from .calibration import (
                          acalibrate,
                          acalibrate_pairwise,
                          calibrate_verdicts,
                          cohen_kappa,
                          load_calibration_items,
                          load_pairwise_items,
)
from .code import ExactMatch, FunctionJudge, JSONSchemaJudge, NumericTolerance, RegexMatch, normalize_text
from .library import PairwiseJudge, PairwiseResult, available, definition, load
from .llm import BinaryVerdict, GradedVerdict, LLMExplainer, LLMJudge
from .voting import EnsembleJudge, SelfConsistentJudge

__all__ = ["Judge", "JudgePanel", "ExactMatch", "FunctionJudge", "JSONSchemaJudge", "NumericTolerance",
           "RegexMatch", "normalize_text", "BinaryVerdict", "GradedVerdict", "LLMExplainer", "LLMJudge",
           "load", "available", "definition", "PairwiseJudge", "PairwiseResult", "EnsembleJudge",
           "SelfConsistentJudge", "acalibrate", "calibrate_verdicts", "cohen_kappa", "load_calibration_items",
           "acalibrate_pairwise", "load_pairwise_items"]
