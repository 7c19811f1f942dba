"""Optional dependencies: import one, or say which extra installs it (the core install stays lean, issue 27)."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import ConfigError


def require(module: str, extra: str, *, what: str) -> ModuleType:
    """``module`` imported, or a ConfigError naming ``what`` needs it and the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{what} needs {module.split('.')[0]}, which the core install leaves out: "
                          f"pip install 'promptlearn[{extra}]'") from None


def available(module: str) -> bool:
    """Whether ``module`` can be imported (a blocked or missing module cannot)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
