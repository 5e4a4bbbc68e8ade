"""``ember.linalg``: linear algebra with gradients."""
