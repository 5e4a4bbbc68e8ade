"""``ember.nn.init``: parameter initialisation (filled in by the nn work)."""
