"""netspec's benchmark suite: `python -m benchmarks` (or `make bench`) writes RESULTS.md and results.json here."""
