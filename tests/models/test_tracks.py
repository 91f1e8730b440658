"""Track tables: resolution by meaning or index, on the planted model and on Enformer's real
5,313-track table (shared/reference/enformer-targets-human.txt; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from seqbench.models.base import TrackError, TrackRequest, TrackTable, parse_assay
from seqbench.models.registry import ENFORMER_PREFERRED, enformer_tracks

TARGETS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "enformer-targets-human.txt"


def test_parse_assay():
    assert parse_assay("CAGE:chronic myelogenous leukemia cell line:K562 ENCODE, biol_") == "CAGE"
    assert parse_assay("DNASE:K562") == "DNASE"
    assert parse_assay("no assay here") == ""


def _table() -> TrackTable:
    frame = pd.DataFrame({"index": [0, 1, 2, 3], "identifier": list("abcd"),
                          "description": ["CAGE:K562 x", "DNASE:K562", "CAGE:K562 y", "CAGE:HepG2"]})
    return TrackTable(frame, {("CAGE", "K562"): 2})


def test_resolution_by_meaning_index_and_preference():
    t = _table()
    assert t.resolve(TrackRequest(assay="dnase", cell_type="k562")) == 1
    assert t.resolve(TrackRequest(assay="CAGE", cell_type="HepG2")) == 3
    assert t.resolve(TrackRequest(assay="CAGE", cell_type="K562")) == 2  # preferred among two
    assert t.resolve(TrackRequest(index=0)) == 0
    with pytest.raises(TrackError, match="outside this model's 4 tracks"):
        t.resolve(TrackRequest(index=4))
    with pytest.raises(TrackError, match="no track for assay 'CAGE' in cell type 'HeLa'"):
        t.resolve(TrackRequest(assay="CAGE", cell_type="HeLa"))
    ambiguous = TrackTable(t.frame.reset_index(drop=True))
    with pytest.raises(TrackError, match="2 tracks answer"):
        ambiguous.resolve(TrackRequest(assay="CAGE", cell_type="K562"))


@pytest.mark.skipif(not TARGETS.is_file(), reason="shared/reference/enformer-targets-human.txt not present")
def test_enformer_targets_resolve_the_papers_tracks():
    t = enformer_tracks(str(TARGETS))
    assert len(t) == 5313
    assert t.resolve(TrackRequest(assay="CAGE", cell_type="K562")) == 5111 == ENFORMER_PREFERRED[("CAGE", "K562")]
    assert "K562 ENCODE, biol_" in t.name(5111)
    assert t.name(4828).startswith("CAGE:chronic myelogenous leukemia cell line:K562")
    raw = pd.read_csv(TARGETS, sep="\t")
    n_dnase_k562 = int((raw["description"].str.startswith("DNASE:") & raw["description"].str.contains("K562")).sum())
    assert n_dnase_k562 > 1  # ambiguous, so seqbench refuses to guess and lists them
    with pytest.raises(TrackError, match=rf"{n_dnase_k562} tracks answer.*121 \(DNASE:K562\).*explicit index"):
        t.resolve(TrackRequest(assay="DNASE", cell_type="K562"))
    cage = t.frame[t.frame["assay"] == "CAGE"].index
    assert cage.min() == 4675 and cage.max() == 5312 and len(cage) == 638


def test_enformer_without_targets_is_index_only():
    t = enformer_tracks(None)
    assert t.resolve(TrackRequest(index=5111)) == 5111
    with pytest.raises(TrackError):
        t.resolve(TrackRequest(assay="DNASE", cell_type="K562"))


def test_match_by_cell_type_substring_falls_back_to_the_whole_assay():
    import pandas as pd

    from seqbench.models.base import TrackTable

    t = TrackTable(pd.DataFrame({
        "index": [0, 1, 2, 3],
        "identifier": ["a", "b", "c", "d"],
        "description": ["CAGE:HepG2 x", "CAGE:K562 y", "DNASE:HepG2 z", "CAGE:melanocyte of skin"],
    }))
    assert t.match("CAGE", "hepg2") == [0]
    assert t.match("CAGE", "mel") == [3]
    assert t.match("DNASE", "hepg2") == [2]
    assert t.match("CAGE", "keratinocyte") == [0, 1, 3]  # none matches: every CAGE track
    assert t.match("cage", "k562") == []  # the assay is case-sensitive, as the authors'
