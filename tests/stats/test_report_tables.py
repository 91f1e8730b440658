"""The one table writer every experiment's ``write_tables`` goes through (seqbench.report.tables)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from seqbench.report.tables import write_frames, write_json


def _frames() -> dict[str, pd.DataFrame]:
    return {
        "a": pd.DataFrame({"x": [1, 2], "y": [0.1, 1 / 3]}, index=[5, 7]),
        "b": pd.DataFrame({"k": ["p", "q"]}),
    }


def test_formats_order_and_contents(tmp_path):
    frames = _frames()
    paths = write_frames(frames, tmp_path / "out", csv=["a"], tsv=True)
    assert [p.name for p in paths] == ["a.parquet", "a.csv", "a.tsv", "b.parquet", "b.tsv"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temporaries
    # exactly pandas' own writers, index never written
    assert (tmp_path / "out" / "a.csv").read_text() == frames["a"].to_csv(index=False)
    assert (tmp_path / "out" / "a.tsv").read_text() == frames["a"].to_csv(sep="\t", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "a.parquet"), frames["a"].reset_index(drop=True))


def test_float_format_applies_to_text_formats(tmp_path):
    paths = write_frames(_frames(), tmp_path, parquet=False, tsv=["a"], float_format="%.3g")
    assert [p.name for p in paths] == ["a.tsv"]
    assert paths[0].read_text() == "x\ty\n1\t0.1\n2\t0.333\n"


def test_unknown_stem_or_a_bare_string_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not among the frames"):
        write_frames(_frames(), tmp_path, csv=["c"])
    with pytest.raises(TypeError, match="collection of stems"):
        write_frames(_frames(), tmp_path, csv="a")
    assert not any(tmp_path.iterdir())


def test_write_json_keeps_key_order(tmp_path):
    path = write_json(tmp_path / "s.json", {"b": 1, "a": None})
    assert path.read_text() == '{\n  "b": 1,\n  "a": null\n}\n'
    assert json.loads(path.read_text()) == {"b": 1, "a": None}
