"""Job specs: the paper-scale spec parses to the paper's settings; defaults; hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqbench.models.base import TrackRequest
from seqbench.spec import SCHEMA, SpecError, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]


def test_paper_scale_spec_has_the_papers_settings():
    spec = load_spec(ROOT / "jobs" / "multiplicativity.toml")
    assert spec.experiment == "multiplicativity"
    assert spec.model.kind == "enformer"
    assert spec.model.resolved_handle() == "https://tfhub.dev/deepmind/enformer/1"
    assert spec.tracks == {"cage": TrackRequest(index=5111)}
    assert spec.ensemble.shifts == (-43, 0, 43) and spec.ensemble.strands == ("+", "-")
    assert spec.ensemble.bin_window == (-1, 1) and spec.ensemble.n_members == 6
    assert spec.fasta == Path("/path/to/SequenceBenchmark/Data/Genome/genome.fa")
    root = Path("/path/to/SequenceBenchmark")
    assert spec.inputs["candidates"] == root / "Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv"


def test_defaults_fill_every_schema_key(tmp_path):
    spec = parse_spec({"experiment": "multiplicativity"}, origin="t", base_dir=tmp_path)
    assert spec.seed == SCHEMA["seed"].default
    assert spec.runtime.shard_size == SCHEMA["runtime"]["shard_size"].default
    assert spec.data_root == tmp_path.resolve()
    assert spec.tracks == {"cage": TrackRequest(assay="CAGE", cell_type="K562")}


def test_content_hash_ignores_runtime_but_not_science(tmp_path):
    base = {"experiment": "multiplicativity"}
    h = parse_spec(base, origin="t", base_dir=tmp_path).content_hash()
    assert parse_spec({**base, "runtime": {"replicas": 4, "shard_size": 7}}, origin="t",
                      base_dir=tmp_path).content_hash() == h
    assert parse_spec({**base, "model": {"batch_size": 3}}, origin="t", base_dir=tmp_path).content_hash() == h
    assert parse_spec({**base, "seed": 1}, origin="t", base_dir=tmp_path).content_hash() != h
    assert parse_spec({**base, "ensemble": {"shifts": [0]}}, origin="t", base_dir=tmp_path).content_hash() != h


def test_geometry_override_must_be_complete_and_consistent(tmp_path):
    with pytest.raises(SpecError, match="need all of"):
        parse_spec({"experiment": "multiplicativity", "model": {"n_bins": 10}}, origin="t", base_dir=tmp_path)
    with pytest.raises(SpecError, match=r"runs past the input of 1000 bp"):
        parse_spec({"experiment": "multiplicativity", "model": {"sequence_length": 1000, "bin_size": 128,
                                                                "offset": 0, "n_bins": 896}},
                   origin="t", base_dir=tmp_path)
    # a crop that is not centred is a geometry a model can have (only the output must fit the input)
    spec = parse_spec({"experiment": "multiplicativity", "ensemble": {"shifts": [0]},
                       "model": {"sequence_length": 393_216, "bin_size": 128, "offset": 100_000, "n_bins": 896}},
                      origin="t", base_dir=tmp_path)
    assert spec.model.geometry.offset == 100_000


def test_ensemble_validation(tmp_path):
    with pytest.raises(SpecError, match="strands"):
        parse_spec({"experiment": "multiplicativity", "ensemble": {"strands": ["+", "x"]}}, origin="t",
                   base_dir=tmp_path)


def test_a_model_may_have_its_own_windows(tmp_path):
    """``[[models]] windows`` replaces ``ensemble.windows`` for that model (Basenji2 in-genome only, as
    the paper), and a spec without it hashes as before."""
    base = {"experiment": "multiplicativity", "ensemble": {"windows": [1001, 0]}}
    two = [{"kind": "planted"}, {"kind": "planted-basenji2"}]
    plain = parse_spec({**base, "models": two}, origin="t", base_dir=tmp_path)
    assert [v[2] for v in plain.variants] == ["planted-v1-w1001", "planted-v1-full",
                                               "planted-basenji2-v1-w1001", "planted-basenji2-v1-full"]
    own = parse_spec({**base, "models": [two[0], {**two[1], "windows": [0]}]}, origin="t", base_dir=tmp_path)
    assert [(i, w) for i, w, _ in own.variants] == [(0, 1001), (0, 0), (1, 0)]
    assert own.variants[-1][2] == "planted-basenji2-v1-full"
    assert own.content_hash() != plain.content_hash()
    # only a model's own windows name its variants when the job has none
    solo = parse_spec({"experiment": "multiplicativity", "models": [two[0], {**two[1], "windows": [3001]}]},
                      origin="t", base_dir=tmp_path)
    assert [v[2] for v in solo.variants] == ["planted-v1-full", "planted-basenji2-v1-w3001"]
    with pytest.raises(SpecError, match=r"models\[1\]\.windows: 200001 bp is longer than the input of"):
        parse_spec({**base, "models": [two[0], {**two[1], "windows": [200_001]}]}, origin="t", base_dir=tmp_path)
    with pytest.raises(SpecError, match=r"models\[0\]\.windows = \[5, 5\] repeats 5"):
        parse_spec({"experiment": "multiplicativity", "models": [{"kind": "planted", "windows": [5, 5]}]},
                   origin="t", base_dir=tmp_path)
    with pytest.raises(SpecError, match=r"models\[0\]\.windows = 'x'; expected a list of widths"):
        parse_spec({"experiment": "multiplicativity", "models": [{"kind": "planted", "windows": "x"}]},
                   origin="t", base_dir=tmp_path)
