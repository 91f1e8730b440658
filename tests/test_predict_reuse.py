"""The per-shard reference reuse of ``materialize_shard`` is byte-identical to reading without it."""

from __future__ import annotations

import numpy as np

from seqbench.demo.synthetic import ensure_demo
from seqbench.genome import Genome
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.predict import ReuseReader, materialize_shard
from seqbench.sequence.constructs import Construct, FromGenome, mask, replace, shuffle_region
from seqbench.sequence.ensemble import Ensemble

ENS = Ensemble()


def _constructs(genome: Genome) -> list[Construct]:
    chrom = "chr1"
    length = genome.lengths[chrom]
    ws = 18_432
    tss = ws + 196_608 + 64
    out = [Construct("ref", chrom=chrom, landmark=tss, window_start=ws)]
    for k, d in enumerate((5_000, -20_000, 150_000)):
        lo = tss + d - 1000
        out.append(Construct(f"n{k}", chrom=chrom, landmark=tss, window_start=ws, edits=(mask(lo, lo + 2000),)))
        out.append(
            Construct(
                f"s{k}", chrom=chrom, landmark=tss, window_start=ws, edits=(shuffle_region(lo, lo + 2000, 7 + k),)
            )
        )
    # an insert from another chromosome and from far away on the same one (cache misses)
    out.append(
        Construct(
            "ins",
            chrom=chrom,
            landmark=tss,
            window_start=ws,
            edits=(
                replace(tss + 3000, tss + 5000, FromGenome("chr2", 300_000, 302_000)),
                replace(tss + 9000, tss + 10_000, FromGenome(chrom, 1_200_000, 1_201_000, "-")),
            ),
        )
    )
    # windows that run off both chromosome ends (N padding), centred on their landmark
    out.append(Construct("left", chrom=chrom, landmark=1_000))
    out.append(Construct("right", chrom=chrom, landmark=length - 1_000, edits=(mask(length - 5000, length - 3000),)))
    out.append(Construct("ref2", chrom=chrom, landmark=tss, window_start=ws))
    return out


def test_reuse_is_byte_identical_and_fetches_once(cache_dir):
    genome = Genome(ensure_demo(cache_dir).fasta)
    cons = _constructs(genome)
    ids = list(range(len(cons)))
    a = materialize_shard(0, ids, cons, genome.read_padded, ENFORMER_GEOMETRY, ENS, reuse_reference=False)
    b = materialize_shard(0, ids, cons, genome.read_padded, ENFORMER_GEOMETRY, ENS, reuse_reference=True)
    assert np.array_equal(a.windows, b.windows)
    assert np.array_equal(a.landmarks, b.landmarks)

    # seven constructs on one window: every read after the first block comes from the cache
    calls = []

    def counting(chrom, start, end):
        calls.append((chrom, start, end))
        return genome.read_padded(chrom, start, end)

    reader = ReuseReader(counting, ENFORMER_GEOMETRY.sequence_length + 86)
    from seqbench.sequence.constructs import materialize

    for c in cons[:7]:
        materialize(c, reader, sequence_length=ENFORMER_GEOMETRY.sequence_length, min_shift=-43, max_shift=43)
    assert reader.fetches <= 2 < reader.hits
    assert len(calls) == reader.fetches


def test_reuse_views_are_read_only(cache_dir):
    genome = Genome(ensure_demo(cache_dir).fasta)
    reader = ReuseReader(genome.read_padded, 30_000)
    piece = reader("chr1", 50_000, 70_000)  # >= min_block: a block is fetched and sliced
    assert np.array_equal(piece, genome.read_padded("chr1", 50_000, 70_000))
    assert not piece.flags.writeable
    again = reader("chr1", 60_000, 61_000)
    assert reader.hits == 1 and np.array_equal(again, genome.read_padded("chr1", 60_000, 61_000))


def test_ambiguity_codes_in_the_windows_are_counted(tmp_path):
    """Each construct counts the IUPAC codes of the genome pieces it reads, whatever the read reuse:
    the count equals a plain count of the letters in each construct's windows."""
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
    for reuse in (True, False):
        shard = materialize_shard(0, list(range(4)), constructs, genome.read_padded, geometry, ens,
                                  reuse_reference=reuse, count_ambiguous=genome.ambiguous_count)
        assert shard.ambiguous == expected > 0
