import numpy as np
import pytest

from seqbench.sequence.codes import SequenceError, decode, encode, reverse_complement


def test_roundtrip_and_case():
    assert decode(encode("acgtNACGT")) == "ACGTNACGT"
    assert encode("ACGTN").tolist() == [0, 1, 2, 3, 4]


def test_reverse_complement_matches_string_definition():
    s = "AACGTTTNGC"
    comp = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
    want = "".join(comp[c] for c in reversed(s))
    assert decode(reverse_complement(encode(s))) == want
    batch = np.stack([encode(s), encode(s[::-1])])
    assert decode(reverse_complement(batch)[1]) == "".join(comp[c] for c in s)


def test_bad_character_is_named_with_position():
    with pytest.raises(SequenceError, match=r"'R' at position 3"):
        encode("ACGRT", what="row 7")
