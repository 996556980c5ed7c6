"""The evaluation set: real footage edited as copiers and generators do, with its truth, and the
run that indexes, scans and scores it. Run from a checkout as `python -m evaluation.make_set` and
`python -m evaluation.run` (see evaluation/README.md)."""
