"""The comparison harness behind `langmodels bench`.

    spec.py (check a YAML spec) -> harness.py (fit and score every model on one dataset)
    -> records.py (results.jsonl, generations) -> report.py (tables) -> plots.py (figures)
"""
