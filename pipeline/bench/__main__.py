"""``python -m pipeline.bench``: run the benchmark, print its tables, write ``BENCHMARKS.md``.

    python -m pipeline.bench                 # the models of issue #7; writes BENCHMARKS.md
    python -m pipeline.bench --quick         # tiny models, for development; writes
                                             # out/bench-quick/BENCHMARKS.md

This is the only module of the package that prints.
"""

# NOTE: the imports stay under the guard. Spawned worker processes re-import this module as
# `__mp_main__`, and they should not import the orchestrator's dependencies for nothing.
if __name__ == "__main__":
    from pipeline.bench.cli import main

    raise SystemExit(main())
