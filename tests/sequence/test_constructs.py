"""Constructs, materialization and ensemble geometry, against experiments-spec §0.3."""

import numpy as np
import pytest

from seqbench.genome import Genome
from seqbench.models.base import ENFORMER_GEOMETRY as G
from seqbench.sequence.codes import decode, encode, reverse_complement
from seqbench.sequence.constructs import (
    Construct,
    ConstructError,
    FromGenome,
    InEdit,
    Literal,
    delete,
    insert,
    landmark_position,
    mask,
    materialize,
    replace,
    shuffle_region,
    substitute,
)
from seqbench.sequence.ensemble import Ensemble, member_codes, member_landmarks, window_bins
from tests.conftest import random_dna, write_fasta

L = G.sequence_length


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    d = tmp_path_factory.mktemp("g")
    seq = random_dna(900_000, 1)
    write_fasta(d / "g.fa", {"chrA": seq, "chrB": random_dna(50_000, 2)})
    return Genome(d / "g.fa"), seq


# §0.3 table, "1-nt replace at TSS" / centred insert rows, in the authors' landing-pad labels
# (offset o): forward pos 196565/196608/196651 -> bins 447/448/448 for o = -43/0/+43; reverse
# pos 196650/196607/196564 -> bins 448/447/447.  seqbench's shift is s = -o (docs/geometry.md).
TABLE = {
    ("+", -43): (196565, 447),
    ("+", 0): (196608, 448),
    ("+", 43): (196651, 448),
    ("-", -43): (196650, 448),
    ("-", 0): (196607, 447),
    ("-", 43): (196564, 447),
}


def test_member_landmarks_match_spec_table(genome):
    g, _ = genome
    ens = Ensemble()
    c = Construct("tss", chrom="chrA", landmark=400_000)
    ext, lm = materialize(c, g.read_padded, sequence_length=L, min_shift=-43, max_shift=43)
    pos, bins = member_landmarks(lm, ens, G)
    for m, (strand, shift) in enumerate(ens.members):
        want_pos, want_bin = TABLE[(strand, -shift)]
        assert (pos[m], bins[m]) == (want_pos, want_bin), (strand, shift)
        # the member input really has the landmark nucleotide at that position
        codes = member_codes(ext, ens, L)[m]
        ref = g.fetch("chrA", 400_000, 400_001)[0]
        assert codes[pos[m]] == (ref if strand == "+" else 3 - ref)
    # reverse-strand bins are the mirror 895 - b of the forward ones, as the paper says
    fw = dict(zip(ens.members, bins, strict=True))
    for sh in ens.shifts:
        assert fw[("-", sh)] == 895 - fw[("+", sh)]


def test_authors_refseq_bug_B5_is_fixed():
    """The authors' extract_refseq says bin 448 for rv at offset 0; the true bin is 447 (§13 B5)."""
    pos, bins = member_landmarks(L // 2, Ensemble(shifts=(0,), strands=("-",)), G)
    assert bins[0] == 447 and pos[0] == L // 2 - 1


def test_window_start_and_shift_move_window_right(genome):
    g, seq = genome
    c = Construct("w", chrom="chrA", landmark=300_000, window_start=100_000)
    ext, lm = materialize(c, g.read_padded, sequence_length=L, min_shift=-43, max_shift=43)
    assert decode(ext[:50]) == seq[100_000 - 43 : 100_000 + 7]
    assert lm == 300_000 - (100_000 - 43)
    ens = Ensemble()
    codes = member_codes(ext, ens, L)
    m = ens.members.index(("+", 43))
    assert decode(codes[m][:20]) == seq[100_043:100_063]
    m = ens.members.index(("-", 0))
    assert np.array_equal(codes[m], reverse_complement(encode(seq[100_000 : 100_000 + L])))


def test_same_length_replacements_and_identity(genome):
    """Re-inserting a window's own sequence gives the reference window (the multiplicativity check)."""
    g, seq = genome
    ref = Construct("ref", chrom="chrA", landmark=400_000)
    same = Construct(
        "same",
        chrom="chrA",
        landmark=400_000,
        edits=(
            replace(399_500, 400_500, FromGenome("chrA", 399_500, 400_500)),
            replace(420_000, 422_000, FromGenome("chrA", 420_000, 422_000)),
        ),
    )
    a, la = materialize(ref, g.read_padded, sequence_length=L)
    b, lb = materialize(same, g.read_padded, sequence_length=L)
    assert la == lb and np.array_equal(a, b)
    swapped = Construct(
        "swap", chrom="chrA", landmark=400_000, edits=(replace(420_000, 422_000, FromGenome("chrB", 1_000, 3_000)),)
    )
    c, _ = materialize(swapped, g.read_padded, sequence_length=L)
    off = 420_000 - (400_000 - L // 2)
    assert decode(c[off : off + 2000]) == g.fetch_str("chrB", 1_000, 3_000)
    assert np.array_equal(c[:off], a[:off]) and np.array_equal(c[off + 2000 :], a[off + 2000 :])


def test_length_changing_edits_move_landmark(genome):
    g, seq = genome
    # 100 bp inserted and 30 bp deleted upstream of the landmark: landmark stays centred
    c = Construct(
        "indel",
        chrom="chrA",
        landmark=400_000,
        edits=(
            insert(350_000, Literal("A" * 100)),
            delete(360_000, 360_030),
        ),
    )
    assert landmark_position(c) == 400_000 + 70
    ext, lm = materialize(c, g.read_padded, sequence_length=L)
    assert lm == L // 2
    assert ext[lm] == encode(seq[400_000])[0]
    start = 400_000 - L // 2  # window in source coordinates right of the edits shifts by 70
    assert decode(ext[L // 2 + 1 : L // 2 + 200]) == seq[400_001:400_200]
    assert decode(ext[:10]) == seq[start + 70 : start + 80]


def test_landmark_in_insert(genome):
    g, _ = genome
    plasmid_insert = "GATTACA" * 20
    c = Construct("ins", chrom="chrA", landmark=InEdit(0, 70), edits=(insert(500_000, Literal(plasmid_insert)),))
    ext, lm = materialize(c, g.read_padded, sequence_length=L)
    assert lm == L // 2 and decode(ext[lm - 70 : lm + 70]) == plasmid_insert


def test_literal_construct_padded_with_n():
    c = Construct("lit", literal="ACGT" * 50, landmark=100)
    ext, lm = materialize(c, None, sequence_length=L)
    assert lm == L // 2
    assert decode(ext[lm - 100 : lm + 100]) == "ACGT" * 50
    assert (ext[: lm - 100] == 4).all() and (ext[lm + 100 :] == 4).all()


def test_shuffle_mask_substitute(genome):
    g, seq = genome
    c = Construct(
        "sh",
        chrom="chrA",
        landmark=400_000,
        edits=(
            shuffle_region(410_000, 412_000, seed=5),
            mask(420_000, 420_100),
            substitute(430_000, seq[430_000], "A" if seq[430_000] != "A" else "C"),
        ),
    )
    ext, lm = materialize(c, g.read_padded, sequence_length=L)
    base = 400_000 - L // 2
    region = ext[410_000 - base : 412_000 - base]
    orig = encode(seq[410_000:412_000])
    assert np.array_equal(np.sort(region), np.sort(orig)) and not np.array_equal(region, orig)
    assert (ext[420_000 - base : 420_100 - base] == 4).all()
    assert decode(ext[430_000 - base : 430_001 - base]) != seq[430_000]
    again, _ = materialize(c, g.read_padded, sequence_length=L)
    assert np.array_equal(ext, again)
    bad = Construct("bad", chrom="chrA", landmark=400_000, edits=(substitute(430_000, "NN", "A"),))
    with pytest.raises(ConstructError, match="expected 'NN'"):
        materialize(bad, g.read_padded, sequence_length=L)


def test_window_off_chromosome_end_is_n_padded(genome):
    g, seq = genome
    c = Construct("end", chrom="chrA", landmark=10_000)
    ext, lm = materialize(c, g.read_padded, sequence_length=L)
    assert (ext[: L // 2 - 10_000] == 4).all()
    assert decode(ext[L // 2 - 10_000 : L // 2 - 10_000 + 30]) == seq[:30]


def test_bad_constructs_refused():
    with pytest.raises(ConstructError, match="overlaps"):
        Construct("o", chrom="c", landmark=0, edits=(mask(10, 20), mask(15, 30)))
    with pytest.raises(ConstructError, match="exactly one"):
        Construct("x", landmark=0)
    c = Construct("in", chrom="c", landmark=15, edits=(delete(10, 20),))
    with pytest.raises(ConstructError, match="InEdit"):
        landmark_position(c)


def test_window_bins_mask_edges():
    bins, valid = window_bins(np.array([0, 448, 895]), Ensemble(), 896)
    assert bins.tolist() == [[0, 0, 1], [447, 448, 449], [894, 895, 895]]
    assert valid.tolist() == [[0, 1, 1], [1, 1, 1], [1, 1, 0]]


def test_shuffled_genome_payload_is_a_seeded_permutation_of_the_genome_piece():
    import numpy as np

    from seqbench.sequence.constructs import Construct, ShuffledGenome, insert, materialize

    rng = np.random.default_rng(0)
    chrom = rng.integers(0, 4, 5000).astype(np.uint8)

    def read(_c, a, b):
        out = np.full(b - a, 4, np.uint8)
        lo, hi = max(a, 0), min(b, chrom.size)
        out[lo - a : hi - a] = chrom[lo:hi]
        return out

    def build(seed):
        c = Construct("k", landmark=100, chrom="c", edits=(insert(2000, ShuffledGenome("c", 300, 500, seed)),),
                      window_start=0)
        return materialize(c, read, sequence_length=3000)[0]

    a, b, a2 = build(1), build(2), build(1)
    piece = a[2000:2200]
    assert np.array_equal(np.bincount(piece, minlength=5), np.bincount(chrom[300:500], minlength=5))
    assert not np.array_equal(piece, chrom[300:500])
    assert np.array_equal(a, a2) and not np.array_equal(a, b)
    assert np.array_equal(a[:2000], chrom[:2000]) and np.array_equal(a[2200:], chrom[2000:2800])
