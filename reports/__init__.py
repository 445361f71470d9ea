"""Reports: read pytest-benchmark autosaves, write tables and figures.

``python -m reports`` turns the autosaved runs under ``.benchmarks`` into
``report.md``, a self-contained ``report.html`` and the figures as PNG and
SVG; ``python -m reports compare A B`` puts two runs side by side and flags
regressions. Everything is read through schema.py, the suite's contract.
Nothing here imports torch or the models: a report can be made on any
machine that has the JSON files (a test checks it).
"""
