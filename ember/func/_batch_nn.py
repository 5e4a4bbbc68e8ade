"""Batching rules for matmul-family, linear, loss and embedding ops (see ``_batch_rules``)."""
