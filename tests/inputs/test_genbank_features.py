"""The GenBank FEATURES reader: locations (1-based inclusive in the file) to 0-based half-open, labels."""

from __future__ import annotations

from seqbench.inputs.genbank_features import parse_features
from seqbench.inputs.plasmids import format_genbank, parse_genbank


def test_locations_labels_and_strands(tmp_path):
    header = [
        "LOCUS       TEST 120 bp    DNA     circular SYN 01-MAR-2023",
        "FEATURES             Location/Qualifiers",
        "     source          1..120",
        '                     /organism="synthetic"',
        "     CDS             complement(11..30)",
        '                     /gene="rep"',
        '                     /label="reporter"',
        "     promoter        <41..>50",
        '                     /note="a promoter"',
        "     misc_feature    join(61..70,",
        "                     81..90)",
        '                     /label="split one"',
        "     repeat_region   100",
    ]
    path = tmp_path / "p.gb"
    path.write_text(format_genbank(header, "ACGT" * 30))
    feats = parse_features(path)
    got = [(f.kind, f.start, f.end, f.strand, f.label) for f in feats]
    assert got == [
        ("source", 0, 120, "+", ""),
        ("CDS", 10, 30, "-", "reporter"),
        ("promoter", 40, 50, "+", "a promoter"),
        ("misc_feature", 60, 90, "+", "split one"),
        ("repeat_region", 99, 100, "+", ""),
    ]
    seq = parse_genbank(path)
    assert seq[10:30] == ("ACGT" * 30)[10:30]  # the slice a 1-based 11..30 names


def test_no_features_table(tmp_path):
    path = tmp_path / "p.gb"
    path.write_text(format_genbank(["LOCUS       TEST 8 bp    DNA"], "ACGTACGT"))
    assert parse_features(path) == []
