"""Every prompt promptlearn sends, in one folder: meta-prompts (``meta/*.j2``), the judge and explainer
templates (``*.j2``) and the judge library's definitions (``judges/*.yaml``)."""

from importlib import resources
from pathlib import Path

from ..errors import ConfigError


def read_prompt(*parts: str) -> str:
    """The text of a packaged prompt file, e.g. ``read_prompt("meta", "ruleset.j2")``."""
    return resources.files(__name__).joinpath(*parts).read_text(encoding="utf-8")


def load_meta_prompt(name: str, directory: str | Path | None = None) -> str:
    """A meta-prompt by name: ``directory/name.j2`` if given and present (a user override), else the packaged
    one, so a folder may override only some. A missing or unreadable folder is a ConfigError."""
    if directory is not None:
        folder = Path(directory)
        if not folder.is_dir():
            raise ConfigError(f"meta_prompt_dir {folder} is not a folder (it should hold your <name>.j2 meta-prompts: "
                              f"ruleset.j2, rewrite.j2, vet.j2, glossary.j2)")
        path = folder / f"{name}.j2"
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"meta-prompt {path} cannot be read: {exc}") from None
    return read_prompt("meta", f"{name}.j2")
