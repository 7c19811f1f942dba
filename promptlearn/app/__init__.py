"""The applications built on the library: the CLI, YAML run specs and the quickstart.

Nothing outside this package imports from it except ``promptlearn.__main__`` (``tests/unit/test_layering.py``).
"""
