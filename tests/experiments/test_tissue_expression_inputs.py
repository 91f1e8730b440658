"""tissue-expression's bad input, refused while the job is planned (before any forward pass).

Contract (docs/bad-input.md): one line ``seqbench-ray: error: ...`` naming the file, the row or key,
what was found and what was expected; exit status 2; no job directory; Ray never starts.  Inputs are
copies of the synthetic expression archive under tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.demo.expression import RELPATHS
from seqbench.experiments.tissue_expression import demo as te_demo

#: the demo's spec, set by the ``data`` fixture
RAW: list[dict] = []


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("expr-archive")
    return root, te_demo.demo_spec(root)  # the archive, the demo's keyword file and the demo's spec


@pytest.fixture
def data(archive, tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(archive[0], root)
    RAW[:] = [archive[1]]
    return root


def _spec(tmp_path: Path, data: Path, extra: str = "") -> Path:
    """The demo's spec on ``data``, written without calling ``demo_spec`` again (it would regenerate the
    archive and undo the damage a test made)."""
    raw = RAW[0]
    inputs = "\n".join(f'{k} = "{v}"' for k, v in raw["inputs"].items())
    path = tmp_path / "spec.toml"
    path.write_text(f'experiment = "tissue-expression"\ndata_root = "{data}"\n[genome]\nfasta = '
                    f'"{raw["genome"]["fasta"]}"\n[model]\nkind = "planted"\n[inputs]\n{inputs}\n{extra}')
    return path


def _refused(tmp_path: Path, spec: Path) -> str:
    job = tmp_path / "job"
    res = CliRunner().invoke(app, ["submit", "tissue-expression", "--spec", str(spec), "--job-dir", str(job), "-q"])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exc_info)
    assert "Traceback" not in res.output and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench-ray: error: "), res.stderr
    assert not job.exists()
    return lines[0].removeprefix("seqbench-ray: error: ")


def _plan(spec: Path) -> str:
    res = CliRunner().invoke(app, ["plan", "tissue-expression", "--spec", str(spec)])
    assert res.exit_code == 0, (res.exit_code, res.output, res.exc_info)
    return res.stdout


def test_the_archive_plans_with_and_without_the_gct_preamble(tmp_path, data):
    spec = _spec(tmp_path, data)
    with_preamble = _plan(spec)
    gct = data / RELPATHS["gtex"]
    lines = gct.read_text().splitlines(keepends=True)
    assert lines[0].startswith("#1.2")
    gct.write_text("".join(lines[2:]))
    assert _plan(spec) == with_preamble
    assert "forward passes" in with_preamble


def test_a_tss_on_a_contig_the_fasta_lacks(tmp_path, data):
    biomart = data / RELPATHS["biomart"]
    lines = biomart.read_text().splitlines()
    # the first canonical protein-coding transcript (junk rows that the filters drop come first)
    row = next(i for i, line in enumerate(lines[1:], start=1)
               if line.split("\t")[2] == "protein_coding" and line.split("\t")[8] == "1")
    fields = lines[row].split("\t")
    fields[3] = "21"  # chromosome 21: not in the archive's genome
    lines[row] = "\t".join(fields)
    biomart.write_text("\n".join(lines) + "\n")
    msg = _refused(tmp_path, _spec(tmp_path, data))
    assert str(biomart) in msg and "is on chr21, which the FASTA" in msg
    assert msg.endswith("or set inputs.skip_missing_contigs = true")
    # skipped and counted when asked
    out = _plan(_spec(tmp_path, data, "skip_missing_contigs = true\n"))
    assert "forward passes" in out


def test_a_regions_bed_without_its_set_column(tmp_path, data):
    bed = data / RELPATHS["regions"]
    bed.write_text("".join("\t".join(line.split("\t")[:3]) + "\n" for line in bed.read_text().splitlines()))
    msg = _refused(tmp_path, _spec(tmp_path, data))
    assert str(bed) in msg and "row 1 has 3 column(s)" in msg and "chrom, start, end, set" in msg


def test_an_exon_intron_table_without_tissue_columns(tmp_path, data):
    table = data / RELPATHS["exon_intron"]
    table.write_text("transcript,chromosome,log_3_utr_length\nENST1.1,chr1,2.0\n")
    msg = _refused(tmp_path, _spec(tmp_path, data))
    assert str(table) in msg and "no column names a GTEx tissue of the job" in msg


def test_manual_keywords_that_are_not_lists(tmp_path, data):
    kw = data / te_demo.MANUAL_KEYWORDS
    spec = _spec(tmp_path, data)
    kw.write_text('[gtex]\nLiver = 3\n')
    msg = _refused(tmp_path, spec)
    assert str(kw) in msg and "gtex.Liver = 3; expected a list of keywords" in msg
