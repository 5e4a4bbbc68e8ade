"""Placeholder: filled in by the op-library work."""

__all__: list[str] = []
