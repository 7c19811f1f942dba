"""Policies of the loop, each a small Protocol with a few implementations."""

from .acceptance import ACCEPTANCES, Acceptance, BootstrapAcceptance, Decision, SignTestAcceptance, StrictImprovement
from .choosers import CHOOSERS, RoundRobinChooser, StrategyChooser, ThompsonChooser
from .components import COMPONENT_SELECTORS, ComponentSelector, CreditComponents, RoundRobinComponents
from .sampling import SAMPLERS, EpochSampler, FailureFocusedSampler, MinibatchSampler
from .selection import SELECTORS, BestSelector, CandidateSelector, ParetoSelector, pareto_front
from .validation import VALIDATIONS, FullPass, FutilityStop, Stop, ValidationPolicy

__all__ = ["ACCEPTANCES", "Acceptance", "BootstrapAcceptance", "Decision", "SignTestAcceptance", "StrictImprovement",
           "SAMPLERS", "EpochSampler", "FailureFocusedSampler", "MinibatchSampler", "SELECTORS", "BestSelector",
           "CandidateSelector", "ParetoSelector", "pareto_front", "CHOOSERS", "StrategyChooser", "ThompsonChooser",
           "RoundRobinChooser", "COMPONENT_SELECTORS", "ComponentSelector", "CreditComponents",
           "RoundRobinComponents", "VALIDATIONS", "FullPass", "FutilityStop", "Stop", "ValidationPolicy"]
