"""Worker functions for tests/test_surface_mp.py, in a module that does not import torch so
spawned children start quickly."""

import ember


def add_rank(rank, shared, private, model, x, target):
    """Write into a shared tensor and a private copy; take one SGD step on a shared model."""
    shared[rank] += rank + 1
    private += 100
    loss = ((model(x[rank:rank + 1]) - target[rank:rank + 1]) ** 2).mean()
    loss.backward()
    with ember.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad


def fail_on_zero(rank):
    if rank == 0:
        raise ValueError("boom from worker")


def consume(queue, done):
    """Receive tensors through a queue: double the shared one in place, and the copy."""
    shared, private = queue.get()
    shared.mul_(2)
    private.mul_(2)
    done.put((shared.is_shared(), private.is_shared(), private.tolist()))
