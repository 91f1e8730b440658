"""``materialize_shard`` counts the IUPAC ambiguity codes of the genome pieces its constructs read."""

from __future__ import annotations

from seqbench.genome import Genome
from seqbench.predict import materialize_shard
from seqbench.sequence.constructs import Construct
from seqbench.sequence.ensemble import Ensemble


def test_ambiguity_codes_in_the_windows_are_counted(tmp_path):
    """Each construct counts the IUPAC codes of the genome pieces it reads (overlapping windows each
    count theirs): the count equals a plain count of the letters in each construct's windows."""
    import random

    from seqbench.models.base import Geometry

    rng = random.Random(3)
    seq = list("".join(rng.choice("ACGT") for _ in range(5_000)))
    for i in rng.sample(range(5_000), 60):
        seq[i] = rng.choice("RYKMSWBDHV")
    seq = "".join(seq)
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chrA\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    genome = Genome(fasta)
    geometry = Geometry(sequence_length=1_000, bin_size=10, offset=0, n_bins=100)
    ens = Ensemble(shifts=(-5, 0, 5), strands=("+",), bin_window=(0, 0))
    landmarks = [800, 1_500, 1_510, 4_000]
    constructs = [Construct(key=f"c{i}", chrom="chrA", landmark=lm) for i, lm in enumerate(landmarks)]
    # the extended window of each: [landmark - L/2 - 5, landmark + L/2 + 5)
    expected = sum(sum(c not in "ACGT" for c in seq[lm - 505 : lm + 505]) for lm in landmarks)
    shard = materialize_shard(0, list(range(4)), constructs, genome.read_padded, geometry, ens,
                              count_ambiguous=genome.ambiguous_count)
    assert shard.ambiguous == expected > 0
