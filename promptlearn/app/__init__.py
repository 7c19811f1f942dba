"""The applications built on the library: the CLI, YAML run specs, the quickstart and HTML reports.

Nothing in the core (loop, judges, LLM layer) imports from here, except ``OptimizationResult.report``
which renders through :mod:`promptlearn.app.report` on demand.
"""
