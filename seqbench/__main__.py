"""`python -m seqbench` is `seqbench-ray`."""

from seqbench.cli import main

main()
