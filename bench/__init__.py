"""ember vs PyTorch benchmarks: ``python -m bench`` (see ``bench/README.md``)."""
