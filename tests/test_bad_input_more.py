"""More bad input (issue 16): mistakes a new user makes next to the ones of ``test_bad_input.py``.

Same contract (docs/bad-input.md, section "More mistakes (issue 16)"): one line
``seqbench-ray: error: ...`` on stderr naming the file, row/column or key, what was found and what
was expected; exit status 2; no traceback; no job directory.  Every case here is refused while the
job is planned, so none starts Ray.  Inputs are copies of the embedded demo data under tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.saturation_mutagenesis import demo as sm_demo
from seqbench.experiments.saturation_mutagenesis import design as sm
from seqbench.genome import Genome, GenomeError
from seqbench.inputs.tables import InputError

TABLE = Path("Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv")
FASTA = Path("Data/Genome/genome.fa")
PLANTED = '[model]\nkind = "planted"\n'
TINY = "[inputs]\nmax_promoters = 2\nmax_enhancers = 2\nmax_backgrounds = 1\n"
EXPECTED_TARGETS = (
    "expected a tab-separated targets file (targets_human.txt) with columns index, identifier, description"
)


@pytest.fixture
def data(cache_dir, tmp_path) -> Path:
    """A copy of the demo FASTA, its index and the candidate table under tmp_path/data."""
    layout = ensure_demo(cache_dir)
    root = tmp_path / "data"
    for rel in (FASTA, Path(f"{FASTA}.fai"), TABLE):  # the index after the FASTA: never older
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(layout.root / rel, root / rel)
    return root


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def spec(tmp_path: Path, body: str, experiment: str = "multiplicativity") -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(f'experiment = "{experiment}"\ndata_root = "data"\n' + body)
    return path


def refused(tmp_path: Path, *args: str) -> str:
    """``submit ... -q`` refused at planning: one line, exit 2, no traceback, no job directory."""
    job = tmp_path / "job"
    res = CliRunner().invoke(app, ["submit", *args, "--job-dir", str(job), "-q"])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exc_info)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    assert "Traceback" not in res.output and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench-ray: error: "), res.stderr
    assert not job.exists() and not (tmp_path / "seqbench-jobs").exists()
    return lines[0].removeprefix("seqbench-ray: error: ")


def planned(tmp_path: Path, *args: str) -> str:
    """``plan ...`` accepted (exit 0); returns its output."""
    res = CliRunner().invoke(app, ["plan", *args])
    assert res.exit_code == 0, (res.exit_code, res.output, res.exc_info)
    return res.stdout


def write_table(data: Path, name: str, text: str | bytes) -> Path:
    out = data / TABLE.with_name(name)
    out.write_bytes(text if isinstance(text, bytes) else text.encode())
    return out


def table_text(data: Path) -> str:
    return (data / TABLE).read_text()


def with_table(tmp_path: Path, path: Path) -> Path:
    return spec(tmp_path, PLANTED + TINY + f'candidates = "{path.relative_to(tmp_path / "data")}"\n')


# ---- the model's handle and targets ---------------------------------------------------------------


def enformer(tmp_path: Path, line: str) -> Path:
    return spec(tmp_path, f'[model]\nkind = "enformer"\n{line}\n[tracks]\ncage = 5111\n' + TINY)


def test_model_handle_is_a_file(tmp_path, data):
    (tmp_path / "enformer.txt").write_text("not a model\n")
    s = enformer(tmp_path, 'handle = "enformer.txt"')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{s}: model.handle = '{tmp_path / 'enformer.txt'}' is a file;"
        " expected a SavedModel directory or a TF-Hub URL"
    )


def test_model_handle_is_an_archive(tmp_path, data):
    (tmp_path / "enformer_1.tar.gz").write_bytes(b"\x1f\x8b")
    s = enformer(tmp_path, 'handle = "enformer_1.tar.gz"')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{s}: model.handle = '{tmp_path / 'enformer_1.tar.gz'}' is a file;"
        " expected a SavedModel directory or a TF-Hub URL (an archive: unpack it, e.g. `tar xzf`,"
        " and give the folder that holds saved_model.pb)"
    )


def test_model_handle_directory_without_a_saved_model(tmp_path, data):
    """docs/bad-input.md case 10b: refused at planning now, not inside Ray."""
    (tmp_path / "empty-model").mkdir()
    s = enformer(tmp_path, 'handle = "empty-model"')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{s}: model.handle = '{tmp_path / 'empty-model'}' is a directory without saved_model.pb or"
        " saved_model.pbtxt; expected a SavedModel directory or a TF-Hub URL"
    )


def test_model_handle_one_folder_too_high(tmp_path, data):
    (tmp_path / "models" / "enformer_1").mkdir(parents=True)
    (tmp_path / "models" / "enformer_1" / "saved_model.pb").write_bytes(b"")
    s = enformer(tmp_path, 'handle = "models"')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{s}: model.handle = '{tmp_path / 'models'}' is a directory without saved_model.pb or"
        " saved_model.pbtxt; expected a SavedModel directory or a TF-Hub URL; did you mean its subfolder 'enformer_1'?"
    )


def test_model_handle_url_with_a_misspelt_scheme(tmp_path, data):
    s = enformer(tmp_path, 'handle = "htp://tfhub.dev/deepmind/enformer/1"')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{s}: model.handle = 'htp://tfhub.dev/deepmind/enformer/1': unknown URL scheme 'htp://'"
        " (did you mean 'http://'?); expected a SavedModel directory or a TF-Hub URL (https://..., gs://...)"
    )


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (None, "no such file or directory"),
        ("", "the file is empty"),
        ("a\tb\tc\n1\t2\t3\n", "lacks column 'identifier' (has a, b, c)"),
        ("index,identifier,description\n0,x,CAGE:y\n", "one column 'index,identifier,description' (comma-separated?)"),
        ("index\tidentifier\tdescription\n", "has a header but no rows"),
        ("index\tidentifier\tdescription\nx\tt\tCAGE:K562\n", "row 1, first column (the track index): 'x';"
         " expected an integer"),
    ],
    ids=["missing", "empty", "wrong-columns", "comma-separated", "header-only", "index-not-a-number"],
)
def test_model_targets_file_that_cannot_be_used(tmp_path, data, content, found):
    targets = tmp_path / "targets_human.txt"
    if content is not None:
        targets.write_text(content)
    s = spec(
        tmp_path,
        '[model]\nkind = "enformer"\ntargets = "targets_human.txt"\n'
        '[tracks]\ncage = {assay = "CAGE", cell_type = "K562"}\n' + TINY,
    )
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    tail = "" if found.endswith("expected an integer") else f"; {EXPECTED_TARGETS}"
    assert msg == f"{s}: model.targets = '{targets}': {found}{tail}"


def test_model_targets_url_with_a_misspelt_scheme(tmp_path, data):
    s = spec(tmp_path, '[model]\nkind = "enformer"\ntargets = "htp://example.org/targets_human.txt"\n'
                       "[tracks]\ncage = 5111\n" + TINY)
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{s}: model.targets = 'htp://example.org/targets_human.txt': unknown URL scheme 'htp://'"
        " (did you mean 'http://'?); expected a path or an https:// URL of targets_human.txt"
    )


# ---- saturation mutagenesis: a Ref the genome contradicts ----------------------------------------


@pytest.fixture
def cagi5(cache_dir, tmp_path) -> Path:
    """A copy of the demo CAGI5 tables (train/ and test/) under tmp_path/data, with the demo genome."""
    layout = ensure_demo(cache_dir)
    folder = sm_demo.ensure_tables(layout.root)
    root = tmp_path / "data"
    for rel in (FASTA, Path(f"{FASTA}.fai")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(layout.root / rel, root / rel)
    shutil.copytree(folder, root / sm_demo.TABLES_RELPATH)
    return root / sm_demo.TABLES_RELPATH


def _shared_position(folder: Path) -> tuple[str, int, str]:
    """A (locus, 1-based position, genome base) given in both test/ and train/ tables of the locus."""
    frame = sm.load_tables(folder)
    split = frame["file"].str.split("/").str[0]
    for (locus, pos), rows in frame.groupby(["locus", "pos"], sort=True):
        if set(split[rows.index]) == {"test", "train"}:
            return str(locus), int(pos) + 1, str(rows["ref"].iloc[0])
    raise AssertionError("the demo tables share no position between test/ and train/")


def test_saturation_ref_wrong_in_the_first_file_names_that_file(tmp_path, cagi5):
    """The test/ file (sorted first) gives a wrong Ref, train/ the genome's: the test/ row is named."""
    locus, pos, base = _shared_position(cagi5)
    path = cagi5 / "test" / f"demo_test_{locus}.tsv"
    lines = path.read_text().splitlines(keepends=True)
    rows = [i for i, ln in enumerate(lines) if ln.split("\t")[1] == str(pos)]
    alts = {lines[i].split("\t")[3] for i in rows}
    wrong = next(b for b in "ACGT" if b != base and b not in alts)
    for i in rows:
        cells = lines[i].split("\t")
        cells[2] = wrong
        lines[i] = "\t".join(cells)
    path.write_text("".join(lines))
    s = spec(tmp_path, PLANTED + f'[inputs]\ntables = "{sm_demo.TABLES_RELPATH}"\n', "saturation-mutagenesis")
    msg = refused(tmp_path, "saturation-mutagenesis", "--spec", str(s))
    chrom = lines[rows[0]].split("\t")[0]
    assert msg == (  # before: the train/ row, which agrees with the genome, was named
        f"{cagi5}/test/demo_test_{locus}.tsv: row {rows[0] + 1}, column 'Ref': {wrong!r} but genome.fa has"
        f" {base!r} at {chrom}:{pos} (1-based); expected the genome's reference base ({len(rows)} row(s) of locus"
        f" {locus} disagree; fix the liftover or remove them)"
    )


def test_saturation_ref_conflict_without_a_genome_names_both_rows(tmp_path):
    """``load_tables`` alone (no genome): both disagreeing rows are named."""
    folder = tmp_path / "t"
    (folder / "s").mkdir(parents=True)
    (folder / "s" / "a_F9.tsv").write_text("chr1\t5\tC\tA\t0.1\t0.01\nchr1\t5\tG\tT\t0.2\t0.01\n")
    with pytest.raises(InputError) as err:
        sm.load_tables(folder)
    assert str(err.value) == (
        f"{folder}/s/a_F9.tsv: row 2, column 'Ref': position chr1:5 (1-based) of locus F9 has Ref C, G in"
        " different rows ('G' here, 'C' at s/a_F9.tsv: row 1); expected one reference base"
    )


# ---- tables: separators, headers, rows, encodings ------------------------------------------------


def test_candidate_table_that_is_comma_separated(tmp_path, data):
    path = write_table(data, "comma.tsv", table_text(data).replace("\t", ","))
    msg = refused(tmp_path, "multiplicativity", "--spec", str(with_table(tmp_path, path)))
    assert msg == (
        f"{path}: multiplicativity candidate table has one column"
        " 'ziga_key,gene,chromosome,main_tss_start,main_tss_end,main_ts...': it looks comma-separated;"
        " expected a tab-separated table"
    )


def test_candidate_table_with_a_duplicated_column_name(tmp_path, data):
    """Before: pandas renamed the second 'chromosome' to 'chromosome.1' and read the gene names as chromosomes."""
    text = table_text(data)
    header, rest = text.split("\n", 1)
    path = write_table(data, "dupcol.tsv", header.replace("\tgene\t", "\tchromosome\t", 1) + "\n" + rest)
    msg = refused(tmp_path, "multiplicativity", "--spec", str(with_table(tmp_path, path)))
    assert msg == (
        f"{path}: multiplicativity candidate table's header names column 'chromosome' twice (columns 2 and 3);"
        " expected unique column names"
    )


def test_candidate_table_row_with_an_extra_field(tmp_path, data):
    lines = table_text(data).splitlines()
    lines[2] += "\textra"
    path = write_table(data, "longrow.tsv", "\n".join(lines) + "\n")
    msg = refused(tmp_path, "multiplicativity", "--spec", str(with_table(tmp_path, path)))
    assert msg == (
        f"{path}: row 2 has 22 tab-separated fields; expected 21, as many as the multiplicativity candidate"
        " table's header (a tab inside a cell?)"
    )


def test_candidate_table_not_utf8(tmp_path, data):
    path = write_table(data, "latin1.tsv", table_text(data).replace("GENE1", "G\u00c9NE1").encode("latin-1"))
    msg = refused(tmp_path, "multiplicativity", "--spec", str(with_table(tmp_path, path)))
    assert msg.startswith(f"{path}: multiplicativity candidate table is not UTF-8 text (")
    assert msg.endswith("); expected a UTF-8 tab-separated table (re-save it as UTF-8)")


@pytest.mark.parametrize(
    ("cell", "hint"),
    [("1", "; did you mean 'chr1'?"), ("chr1 ", "; did you mean 'chr1'? (the cell has spaces around it)"),
     ("CHR1", "; did you mean 'chr1'?")],
    ids=["no-chr-prefix", "trailing-space", "upper-case"],
)
def test_chromosome_named_in_another_convention(tmp_path, data, cell, hint):
    lines = table_text(data).splitlines()
    cells = lines[2].split("\t")
    cells[2] = cell
    lines[2] = "\t".join(cells)
    path = write_table(data, "chrom.tsv", "\n".join(lines) + "\n")
    msg = refused(tmp_path, "multiplicativity", "--spec", str(with_table(tmp_path, path)))
    assert msg == (
        f"{path}: row 2, column 'chromosome': chromosome {cell!r} is not in genome.fa"
        f" (it has 3 sequences: chr1, chr2, chr3){hint}"
    )


@pytest.mark.parametrize(
    "variant", ["crlf", "bom", "trailing-blank-line"],
)
def test_candidate_table_variants_that_are_read_as_the_original(tmp_path, data, variant):
    """Already worked before issue 16 (kept so): Windows line ends, a UTF-8 BOM, a blank last line."""
    text = table_text(data)
    new = {"crlf": text.replace("\n", "\r\n").encode(), "bom": b"\xef\xbb\xbf" + text.encode(),
           "trailing-blank-line": (text + "\n").encode()}[variant]
    path = write_table(data, f"{variant}.tsv", new)
    original = planned(tmp_path, "multiplicativity", "--spec", str(spec(tmp_path, PLANTED + TINY)))
    assert planned(tmp_path, "multiplicativity", "--spec", str(with_table(tmp_path, path))) == original


# ---- FASTA ---------------------------------------------------------------------------------------


def test_fasta_with_a_duplicated_sequence_name(tmp_path, data):
    fasta = data / FASTA.with_name("dup.fa")
    text = (data / FASTA).read_text().replace(">chr2", ">chr1")
    fasta.write_text(text)
    s = spec(tmp_path, PLANTED + TINY + '[genome]\nfasta = "Data/Genome/dup.fa"\n')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == (
        f"{fasta}: sequence name 'chr1' is used by more than one '>' header line; expected unique sequence names"
        " (rename or remove the duplicate, then delete dup.fa.fai)"
    )


def test_fasta_with_windows_line_ends_reads_the_same(tmp_path, data):
    """Already worked: pyfaidx indexes CRLF lines (line width 62 bytes for 60 bases) and reads them right."""
    crlf = data / FASTA.with_name("crlf.fa")
    crlf.write_bytes((data / FASTA).read_bytes().replace(b"\n", b"\r\n"))
    a, b = Genome(data / FASTA), Genome(crlf)
    assert a.lengths == b.lengths
    for chrom, n in a.lengths.items():
        assert np.array_equal(a.fetch(chrom, 0, n), b.fetch(chrom, 0, n))


def test_chromosome_hint_from_the_library():
    """``Genome.check_chrom``'s hint, for callers outside the CLI."""
    g = Genome.__new__(Genome)
    g.path, g.lengths = Path("/x/genome.fa"), {"1": 10, "2": 10}
    with pytest.raises(GenomeError) as err:
        g.check_chrom("chr2", where="t.tsv: row 1")
    assert str(err.value) == (
        "t.tsv: row 1: chromosome 'chr2' is not in genome.fa (it has 2 sequences: 1, 2); did you mean '2'?"
    )


# ---- the fixes in cli / spec / runtime that the first pass left open --------------------------------


def _cli_line(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench-ray: error: "), res.stderr
    return lines[0].removeprefix("seqbench-ray: error: ")


def test_spec_that_is_a_directory(tmp_path):
    (tmp_path / "specs").mkdir()
    line = _cli_line("submit", "multiplicativity", "--spec", "specs")
    assert line == "specs: is a directory; expected a TOML spec file"


def test_an_int_is_an_int(tmp_path):
    s = tmp_path / "three.toml"
    s.write_text("experiment = 3\n")
    assert _cli_line("submit", "multiplicativity", "--spec", str(s)) == (
        f"{s}: experiment = 3 is an int; expected a string")


def test_empty_job_dir_is_refused():
    assert _cli_line("submit", "multiplicativity", "--job-dir", "") == (
        "--job-dir '.': expected a named path (an empty value or '.' is refused)")


def test_status_of_missing_damaged_or_file_paths(tmp_path):
    assert _cli_line("status", "nowhere") == "nowhere: no such job directory"
    (tmp_path / "notes.txt").write_text("x")
    assert _cli_line("status", "notes.txt") == "notes.txt: is a file; expected a seqbench job directory"
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "manifest.json").write_text("{not json")
    line = _cli_line("report", str(tmp_path / "job"))
    assert line.startswith(f"{tmp_path / 'job' / 'manifest.json'}: not valid JSON (") and "damaged" in line


def test_design_tiles_refuses_bad_strands_rules_and_a_directory_out(tmp_path):
    genes = tmp_path / "genes.tsv"
    genes.write_text("gene\tchrom\ttss\tstrand\nG1\tchr1\t30000\t+\nG2\tchr1\t90000\tx\n")
    assert _cli_line("design", "tiles", "--genes", str(genes), "--out", "t.tsv") == (
        f"{genes}: row 2, column 'strand': 'x'; expected + or -")
    genes.write_text("gene\tchrom\ttss\nG1\tchr1\t30000\n")
    assert _cli_line("design", "tiles", "--genes", str(genes), "--out", "t.tsv", "--flank", "10") == (
        "design tiles: flank 10 is less than tile 5000; expected flank >= tile")
    assert _cli_line("design", "tiles", "--genes", str(genes), "--out", "t.tsv", "--kind", "tri") == (
        "design tiles: kind 'tri'; expected mono or di")
    (tmp_path / "outdir").mkdir()
    assert _cli_line("design", "tiles", "--genes", str(genes), "--out", "outdir") == (
        "--out 'outdir': is a directory; expected a file path for the construct table")
