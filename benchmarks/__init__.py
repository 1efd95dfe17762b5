"""The benchmark suite of otel-dask-prov (issue 6): ``scripts/bench``.

Scripts that print figures, never timed unit tests. ``docs/performance.md``
records their results with the machine and the command. See :mod:`benchmarks.run`.
"""
