"""``ember.save`` / ``ember.load`` (filled in by the checkpoint work)."""

__all__ = ["save", "load"]


def save(obj, f) -> None:
    raise NotImplementedError("ember.save is not implemented yet")


def load(f, map_location=None, weights_only=True):
    raise NotImplementedError("ember.load is not implemented yet")
