"""The implementation modules of ``ember.nn.functional``. Every public name in a module's
``__all__`` here is re-exported by ``ember/nn/functional.py``."""
