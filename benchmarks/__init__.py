"""Benchmarks of auditor and its reference index, run from a checkout as `python -m benchmarks.<name>`.

Each benchmark prints its figures and appends them, with the command, date, commit and machine,
as one JSON line to `docs/results/<name>.jsonl` (see benchmarks/README.md);
`python -m benchmarks.docs` writes docs/benchmarks.md from those files.
"""
