"""Docs that must match the code."""

from pathlib import Path

from seqbench.docgen import spec_reference

ROOT = Path(__file__).resolve().parents[1]


def test_spec_reference_is_current():
    assert spec_reference() in (ROOT / "docs" / "spec.md").read_text(), (
        "docs/spec.md is stale: regenerate its key tables with `python -m seqbench.docgen`"
    )


def test_readme_names_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
