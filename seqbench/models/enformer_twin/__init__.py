"""The Enformer-architecture cost twin (model kind ``enformer-twin``): Enformer's published architecture
with seeded random weights, a cost stand-in for benchmarks and GPU measurements, never a predictor.

:mod:`.config` (the architecture's hyper-parameters, its geometry, its analytic FLOP and parameter
counts; no TensorFlow), :mod:`.network` (the ``tf.Module``), :mod:`.build` (the cached SavedModel).
"""
