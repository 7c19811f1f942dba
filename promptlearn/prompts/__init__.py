"""Every prompt promptlearn sends, in one folder: meta-prompts (``meta/*.j2``), the judge and explainer
templates (``*.j2``) and the judge library's definitions (``judges/*.yaml``)."""

from importlib import resources


def read_prompt(*parts: str) -> str:
    """The text of a packaged prompt file, e.g. ``read_prompt("meta", "ruleset.j2")``."""
    return resources.files(__name__).joinpath(*parts).read_text(encoding="utf-8")
