"""The methods ``promptlearn bench --methods`` knows by name, and ``promptlearn:CONFIG.yaml`` methods.

Apart from ``methods.py`` so the Method Protocol and its setup do not import the peers and weight methods built
on them (no import cycle, issue 27).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..config import DEFAULT_STRATEGIES, OptimizeConfig
from ..errors import ConfigError
from ..retrieval import DEFAULT_RETRIEVED_DEMOS
from .methods import Method, PromptlearnMethod, SeedMethod, SeedRetrievalMethod
from .peers import DspyGepaMethod, DspyMiproMethod, GepaMethod
from .weight_methods import GRPOMethod, PromptlearnSFTMethod, SFTMethod

# The default portfolio before cover joined it: the methods measured as "default plus X" keep it, so the
# commands benchmarks/README gives for their cells still reproduce them.
BEFORE_COVER = tuple(name for name in DEFAULT_STRATEGIES if name != "cover")


def builtin_methods() -> dict[str, Method]:
    """The methods ``promptlearn bench --methods`` knows by name."""
    return {m.name: m for m in (
        SeedMethod(), PromptlearnMethod(),
        PromptlearnMethod("promptlearn-rules", OptimizeConfig(mode="rules")),
        PromptlearnMethod("promptlearn-rewrite", OptimizeConfig(mode="rewrite")),
        PromptlearnMethod("promptlearn-demosearch", OptimizeConfig(strategies=(*BEFORE_COVER, "demo_search"))),
        PromptlearnMethod("promptlearn-demosearch-val", OptimizeConfig(strategies=(*BEFORE_COVER, "demo_search"),
                                                                       screen_on="val")),
        SeedRetrievalMethod(), PromptlearnMethod("promptlearn+retrieval", retrieved_demos=DEFAULT_RETRIEVED_DEMOS),
        # The default portfolio since cover joined it; the name its good-seed cells were measured under.
        PromptlearnMethod("promptlearn-cover", OptimizeConfig(strategies=DEFAULT_STRATEGIES)),
        PromptlearnMethod("promptlearn-glossary", OptimizeConfig(strategies=(*DEFAULT_STRATEGIES, "glossary"))),
        PromptlearnMethod("promptlearn-hardcases", OptimizeConfig(strategies=(*DEFAULT_STRATEGIES, "hard_cases"))),
        PromptlearnMethod("promptlearn-futility", OptimizeConfig(strategies=DEFAULT_STRATEGIES, validation="futility")),
        PromptlearnMethod("promptlearn-glossary-futility", OptimizeConfig(strategies=(*DEFAULT_STRATEGIES, "glossary"),
                                                                          validation="futility")),
        PromptlearnMethod("promptlearn-datasummary", OptimizeConfig(data_summary=True)),
        PromptlearnMethod("promptlearn-retrieval", OptimizeConfig(strategies=(*BEFORE_COVER, "retrieval"),
                                                                  screen_on="val")),
        GepaMethod(), DspyGepaMethod(), DspyMiproMethod(), SFTMethod(), GRPOMethod(), PromptlearnSFTMethod())}


def resolve_methods(names: Sequence[str]) -> list[Method]:
    """Methods by name; ``promptlearn:CONFIG.yaml`` is promptlearn with an OptimizeConfig from that file."""
    known = builtin_methods()
    methods: list[Method] = []
    for name in names:
        if name.startswith("promptlearn:"):
            methods.append(PromptlearnMethod(name, _config_file(name.split(":", 1)[1])))
        elif name in known:
            methods.append(known[name])
        else:
            raise ConfigError(f"unknown method {name!r}; choose from {sorted(known)} or promptlearn:CONFIG.yaml")
    if len({m.name for m in methods}) != len(methods):
        raise ConfigError(f"methods repeat: {list(names)}")
    return methods


def _config_file(path_text: str) -> OptimizeConfig:
    import yaml
    from pydantic import ValidationError

    from ..data import read_text, yaml_load

    path = Path(path_text)
    if not path.exists():
        raise ConfigError(f"method config {path} does not exist")
    try:
        return OptimizeConfig.model_validate(yaml_load(read_text(path)) or {})
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(f"method config {path} is not a valid OptimizeConfig: {exc}") from None
