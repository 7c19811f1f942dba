import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def pytest_collection_modifyitems(config, items):
    # Integration tests need the pulled local models; skip (with the reason) where absent
    # unless PROMPTLEARN_REQUIRE_LOCAL=1 (CI), where a missing model must fail loudly.
    from promptlearn.llm.local_models import LOCAL_MODELS, model_dir

    missing = [n for n, s in LOCAL_MODELS.items() if not (model_dir() / s.filename).exists()]
    if not missing or os.environ.get("PROMPTLEARN_REQUIRE_LOCAL") == "1":
        return
    skip = pytest.mark.skip(reason=f"local models not pulled: {missing} (promptlearn models pull)")
    for item in items:
        if "local" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def suites_dir(request):
    """benchmarks/suites of this checkout; skips where ../shared/data (the suites' data) is not beside it."""
    from pathlib import Path

    root = Path(request.config.rootpath)
    if not (root.parent / "shared" / "data").exists():
        pytest.skip("../shared/data is not beside this checkout")
    return root / "benchmarks" / "suites"
