"""``python -m pipeline``: the command line (see ``pipeline.cli``)."""

# NOTE: the import stays under the guard. Spawned worker processes re-import this module as
# `__mp_main__`, and they should not import the orchestrator's dependencies for nothing.
if __name__ == "__main__":
    from pipeline.cli import main

    raise SystemExit(main())
