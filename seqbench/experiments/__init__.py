"""The built-in experiments, one package each (``seqbench/experiments/<name>/``).

Each package exposes ``EXPERIMENT``, an :class:`seqbench.experiment.Experiment`; the registry
(:mod:`seqbench.registry`) lists them beside the plug-ins that other packages register through
the entry-point group ``seqbench.experiments``.  This file imports nothing, so that importing one
experiment does not import them all.
"""
