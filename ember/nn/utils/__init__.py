"""``ember.nn.utils``: gradient clipping, parameter vectors, rnn packing."""
