"""Data shared by the 2-rank workers and the tests that check their results with PyTorch."""

import numpy as np

_rng = np.random.default_rng(0)
X = _rng.standard_normal((32, 6))
Y = _rng.integers(0, 3, 32)
W = [_rng.standard_normal(s) * 0.4 for s in [(8, 6), (8,), (3, 8), (3,)]]
XB = _rng.standard_normal((8, 3, 5))      # SyncBatchNorm input (rank r holds rows 4r..4r+3)
GB = _rng.standard_normal((8, 3, 5))      # the weights of its loss
EPOCHS, BATCH, SEED = 2, 4, 3
