"""seqbench.genome refusals and bookkeeping (issue 16): an index that does not match its FASTA,
FASTA identity, IUPAC ambiguity counts, gzip and bgzip FASTAs, a directory given as the FASTA."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from seqbench.genome import Genome, GenomeError
from seqbench.sequence.codes import N
from tests.conftest import random_dna, write_fasta

A, B = random_dna(600, 1), random_dna(130, 2)


def lines(seq: str, width: int, nl: str = "\n") -> str:
    return "".join(seq[i : i + width] + nl for i in range(0, len(seq), width))


def with_index_of(tmp_path: Path, other: dict[str, str], width: int, edit=lambda text: text) -> Path:
    """g.fa (chrA, chrB at 60 bases a line) next to the index of another FASTA, touched newer."""
    path = write_fasta(tmp_path / "g.fa", {"chrA": A, "chrB": B})
    (tmp_path / "other").mkdir()
    other_path = write_fasta(tmp_path / "other" / "o.fa", other, width)
    Genome(other_path)  # pyfaidx writes o.fa.fai
    fai = Path(f"{path}.fai")
    fai.write_text(edit(Path(f"{other_path}.fai").read_text()))
    later = path.stat().st_mtime + 10
    os.utime(fai, (later, later))
    return path


def mismatch(path: Path, name: str, what: str) -> str:
    return (
        f"{path}.fai: does not match g.fa: sequence {name!r}: {what}; delete g.fa.fai so it is rebuilt"
        " (or run `samtools faidx g.fa`)"
    )


SAME = {"chrA": A, "chrB": B}


# g.fa: ">chrA\n" (offset 6), 10 lines of 61 bytes, ">chrB\n" at 616 (offset 622), 60+60+10 bases.
# got: (byte, line-break bytes) where a line break was expected; the message shows what is there.
@pytest.mark.parametrize(
    "other, width, edit, name, what, got",
    [
        # same names and lengths, 80 bases a line: chrA's first line would end at 6 + 80
        (
            SAME,
            80,
            None,
            "chrA",
            "no line ends at byte 86 (read {got}): the line width is not what the index says",
            (86, 1),
        ),
        # the sequences in the other order: the record for chrB points just after >chrA
        (
            {"chrB": B, "chrA": A},
            60,
            None,
            "chrB",
            "the header line before offset 6 is '>chrA', not a header of 'chrB'",
            None,
        ),
        # another name for the second sequence
        (
            {"chrA": A, "chrC": B},
            60,
            None,
            "chrC",
            "the header line before offset 622 is '>chrB', not a header of 'chrC'",
            None,
        ),
        # a longer first name: every offset is one byte late
        (
            {"chrAA": A, "chrB": B},
            60,
            lambda t: t.replace("chrAA", "chrA"),
            "chrA",
            "the byte before offset 7 is not a line break",
            None,
        ),
        # chrA one line shorter than it is: its data would end 61 bytes before >chrB
        (
            SAME,
            60,
            lambda t: t.replace("\t600\t", "\t540\t"),
            "chrA",
            "its data ends at byte 555 but the next header starts at byte 616",
            None,
        ),
        # chrA's offset one line into its data
        (
            SAME,
            60,
            lambda t: t.replace("\t6\t", "\t67\t"),
            "chrA",
            f"offset 67 does not follow a header line (the line before it is {A[:40]!r})",
            None,
        ),
        # chrA claims \r\n line ends: its first line would end at 6 + 62 - 2
        (
            SAME,
            60,
            lambda t: t.replace("600\t6\t60\t61", "600\t6\t60\t62"),
            "chrA",
            "no line ends at byte 66 (read {got}): the line width is not what the index says",
            (66, 2),
        ),
    ],
    ids=["wider-lines", "other-order", "other-name", "offsets-shifted", "shorter", "offset-in-data", "crlf-claimed"],
)
def test_an_index_that_does_not_match_its_fasta_is_refused(tmp_path, other, width, edit, name, what, got):
    path = with_index_of(tmp_path, other, width, edit or (lambda t: t))
    if got:
        at, nl = got
        what = what.replace("{got}", repr(path.read_bytes()[at - 1 : at + nl]))
    with pytest.raises(GenomeError) as err:
        Genome(path)
    assert str(err.value) == mismatch(path, name, what)
    assert "\n" not in str(err.value)


def test_the_same_index_rebuilt_is_accepted(tmp_path):
    """Control for the test above: the index of an identical FASTA elsewhere passes."""
    path = with_index_of(tmp_path, SAME, 60)
    genome = Genome(path)
    assert genome.fetch_str("chrA", 0, 600) == A and genome.fetch_str("chrB", 0, 130) == B


@pytest.mark.parametrize(
    "text, b",
    [
        (">chrA\r\n" + lines(A, 60, "\r\n") + ">chrB\r\n" + lines(B, 60, "\r\n"), B),  # Windows line ends
        (">chrA\n" + lines(A, 60) + ">chrB\n" + lines(B, 60)[:-1], B),  # no final line break after a short line
        (">chrA\n" + lines(A, 60) + ">chrB\n" + lines(B[:120], 60)[:-1], B[:120]),  # ... after a full line
        (">chrA\n" + lines(A, 60) + ">chrB  more words\n" + lines(B, 60), B),  # a header with a description
        (";comment\n\n>chrA\n" + lines(A, 60) + "\n>chrB\n" + lines(B, 60) + "\n", B),  # comment, blank lines
        (">chrA\n" + A + "\n>chrE\n>chrB\n" + B, B),  # one line each, an empty sequence
    ],
    ids=["crlf", "no-final-newline", "full-last-line", "header-words", "comment-and-blank-lines", "single-lines"],
)
def test_valid_layouts_are_not_refused(tmp_path, text, b):
    """The index check must not refuse FASTAs that pyfaidx (and samtools) index correctly."""
    path = tmp_path / "g.fa"
    path.write_bytes(text.encode())
    Genome(path)  # builds the index
    genome = Genome(path)  # and checks it
    assert genome.fetch_str("chrA", 0, 600) == A
    assert genome.fetch_str("chrB", 0, len(b)) == b


def test_a_directory_is_not_a_fasta(tmp_path):
    (tmp_path / "genome.fa").mkdir()
    with pytest.raises(GenomeError) as err:
        Genome(tmp_path / "genome.fa")
    assert str(err.value) == f"{tmp_path / 'genome.fa'}: is a directory; expected a FASTA file"


def test_a_plain_gzip_fasta_is_refused(tmp_path):
    import gzip

    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(f">chrA\n{lines(A, 60)}".encode()))
    with pytest.raises(GenomeError) as err:
        Genome(path)
    assert str(err.value) == (
        f"{path}: a gzip-compressed FASTA; seqbench needs a plain or bgzip-compressed FASTA with its index:"
        " `gunzip` it (then seqbench indexes it), or recompress it with `bgzip` and run `samtools faidx`"
    )
    assert not Path(f"{path}.fai").exists()


def bgzf_block(data: bytes) -> bytes:
    """One BGZF block (SAM spec section 4.1), written by hand: gzip with the extra subfield BC."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x04\0\0\0\0\0\xff\x06\0BC\x02\0" + struct.pack("<H", 18 + len(body) + 8 - 1)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data))


def write_bgzf(path: Path, text: str, block: int = 100) -> Path:
    raw = text.encode()
    path.write_bytes(b"".join(bgzf_block(raw[i : i + block]) for i in range(0, len(raw), block)) + bgzf_block(b""))
    return path


def test_bgzip_without_biopython_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "Bio", None)  # import Bio.bgzf fails, as without BioPython
    monkeypatch.setitem(sys.modules, "Bio.bgzf", None)
    path = write_bgzf(tmp_path / "g.fa.gz", f">chrA\n{lines(A, 60)}")
    with pytest.raises(GenomeError) as err:
        Genome(path)
    assert str(err.value) == (
        f"{path}: a bgzip-compressed FASTA, and reading one needs BioPython, which is not installed:"
        " `pip install biopython`, or decompress it (`bgzip -d`) and use the plain FASTA"
    )


def test_bgzip_fasta_is_read_and_its_index_checked(tmp_path):
    pytest.importorskip("Bio.bgzf")
    path = write_bgzf(tmp_path / "g.fa.gz", f">chrA\n{lines(A, 60)}>chrB\n{lines(B, 60)}")
    genome = Genome(path)  # pyfaidx writes g.fa.gz.fai and g.fa.gz.gzi
    assert Path(f"{path}.gzi").exists()
    assert genome.fetch_str("chrA", 100, 500) == A[100:500] and genome.fetch_str("chrB", 0, 130) == B
    assert Genome(path).fetch_str("chrB", 55, 65) == B[55:65]  # reopened: indexes read and checked
    # the index of the same sequences at 80 bases a line: refused through the bgzip reader
    other = write_fasta(tmp_path / "o.fa", {"chrA": A, "chrB": B}, 80)
    Genome(other)
    fai = Path(f"{path}.fai")
    fai.write_text(Path(f"{other}.fai").read_text())
    later = path.stat().st_mtime + 10
    os.utime(fai, (later, later))
    with pytest.raises(GenomeError) as err:
        Genome(path)
    assert str(err.value).startswith(f"{fai}: does not match g.fa.gz: sequence 'chrA': no line ends at byte 86")


# ----- identity ---------------------------------------------------------------------------------


def test_identity_of_a_small_fasta_is_the_documented_hash(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"chrA": A, "chrB": B})
    ident = Genome(path).identity()
    data = path.read_bytes()
    fai = "chrA\t600\t6\t60\t61\nchrB\t130\t622\t60\t61\n"  # as samtools writes it for this file
    expected = hashlib.blake2b(
        b"seqbench-fasta-identity-v1\0" + len(data).to_bytes(8, "little") + fai.encode() + b"\0" + data,
        digest_size=32,
    ).hexdigest()
    assert ident["blake2b"] == expected
    assert (ident["size_bytes"], ident["sequences"], ident["total_bp"]) == (len(data), 2, 730)


def test_identity_same_file_same_identity_anywhere(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"chrA": A, "chrB": B})
    first = Genome(path).identity()
    assert Genome(path).identity() == first  # deterministic
    (tmp_path / "copy").mkdir()
    copy = Path(shutil.copy(path, tmp_path / "copy" / "genome.fa"))
    assert Genome(copy).identity() == first  # not the path, not the mtime, not who wrote the index


def test_identity_changes_with_one_base_and_with_the_size(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"chrA": A, "chrB": B})
    first = Genome(path).identity()["blake2b"]
    other = tmp_path / "o"
    other.mkdir()
    one_base = A[:300] + ("A" if A[300] != "A" else "C") + A[301:]
    assert Genome(write_fasta(other / "g.fa", {"chrA": one_base, "chrB": B})).identity()["blake2b"] != first
    longer = write_fasta(other / "h.fa", {"chrA": A, "chrB": B + "A"})
    assert Genome(longer).identity()["blake2b"] != first


def test_identity_of_a_large_fasta_samples_blocks(tmp_path):
    """Above 4 MiB only 64 blocks of 64 KiB are hashed: a base edited in a sampled block changes
    the identity, one edited between blocks does not (the documented limit)."""
    seq = random_dna(5_000_000, 3)
    path = write_fasta(tmp_path / "g.fa", {"chrA": seq})
    first = Genome(path).identity()
    size = path.stat().st_size
    assert first["size_bytes"] == size > 64 * 65536
    step = (size - 65536) // 63
    data = path.read_bytes()

    def edited(pos: int) -> str:
        assert data[pos : pos + 1] in (b"A", b"C", b"G", b"T")
        folder = tmp_path / str(pos)
        folder.mkdir()
        out = folder / "g.fa"
        out.write_bytes(data[:pos] + (b"C" if data[pos] == ord("A") else b"A") + data[pos + 1 :])
        shutil.copy(f"{path}.fai", f"{out}.fai")  # same layout; the index must not be older
        return Genome(out).identity()["blake2b"]

    in_block = 10 * step + 1000  # inside block 10
    between = 10 * step + 65536 + (step - 65536) // 2  # between blocks 10 and 11
    if data[in_block] == ord("\n"):
        in_block += 1
    if data[between] == ord("\n"):
        between += 1
    assert edited(in_block) != first["blake2b"]
    assert edited(between) == first["blake2b"]


# ----- IUPAC ambiguity codes --------------------------------------------------------------------

IUPAC = "ACGTRYNNkmACGTSWBDHVacgtnryACGT"  # the 10 ambiguity codes and 2 lower-case ones among ACGTN


def expected_ambiguous(seq: str) -> int:
    return sum(c not in "ACGTNacgtn" for c in seq)


def test_ambiguity_codes_read_as_n_and_are_counted(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"chrA": A, "chrI": IUPAC})
    genome = Genome(path)
    assert expected_ambiguous(IUPAC) == 12
    codes = genome.fetch("chrI", 0, len(IUPAC))
    assert [int(c) for c in codes] == ["ACGTN".index(c) if c in "ACGTN" else N for c in IUPAC.upper()]
    assert genome.ambiguous_read == 12
    assert genome.ambiguous_count("chrI") == 12
    assert genome.ambiguous_count("chrI", 4, 10) == 4  # R Y N N k m
    assert genome.ambiguous_count("chrI", -10, 5) == 1  # off the start counts nothing
    assert genome.ambiguous_count("chrA") == 0
    assert genome.ambiguous_read == 12  # ambiguous_count does not add to it
    genome.read_padded("chrI", 20, 100)  # "acgtnryACGT" and 69 positions past the end
    assert genome.ambiguous_read == 14
    assert genome.fetch_str("chrA", 0, 600) == A and genome.ambiguous_read == 14


def test_ambiguity_count_on_an_encoded_chromosome(tmp_path):
    """Long reads go through the per-chromosome cache; the counts come from its positions."""
    rng = np.random.default_rng(4)
    seq = list(random_dna(200_000, 5))
    positions = sorted(rng.choice(len(seq), 50, replace=False))
    for i, p in enumerate(positions):
        seq[p] = "RYKMSWBDHVrykmswbdhv"[i % 20]
    seq = "".join(seq)
    genome = Genome(write_fasta(tmp_path / "g.fa", {"chrL": seq}))
    windows = [(0, 100_000), (50_000, 150_000), (120_000, 200_000), (199_000, 260_000)]
    for lo, hi in windows:
        assert len(genome.read_padded("chrL", lo, hi)) == hi - lo
    assert "chrL" in genome._cache  # the long reads encoded the chromosome
    assert genome.ambiguous_read == sum(expected_ambiguous(seq[lo:hi]) for lo, hi in windows)
    for lo, hi in [*windows, (0, 1), (12_345, 67_890)]:
        assert genome.ambiguous_count("chrL", lo, hi) == expected_ambiguous(seq[lo:hi])
    assert genome.ambiguous_count("chrL") == 50
    genome.ambiguous_read = 0  # a caller may reset it around its own reads
    genome.fetch("chrL", positions[0], positions[0] + 1)
    assert genome.ambiguous_read == 1
