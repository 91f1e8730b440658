"""seqbench: in silico experiments against sequence-to-expression models, at cluster scale."""

__version__ = "0.1.0"
