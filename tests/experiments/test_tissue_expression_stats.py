"""tissue-expression statistics on hand-made frames, against scikit-learn pipelines and plain loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from seqbench.experiments.tissue_expression import combine as comb
from seqbench.experiments.tissue_expression import stats as st
from seqbench.experiments.tissue_expression.design import exon_intron_by_gene, manual_features
from seqbench.inputs.tables import InputError


def _data(seed: int = 0, n: int = 220, conditions: int = 11, kaessmann: bool = False):
    rng = np.random.default_rng(seed)
    genes = [f"G{i:04d}" for i in range(n)]
    F = rng.gamma(2.0, 1.0, size=(n, 3))
    F[:, 2] = F[:, 0] * 0.5 + rng.gamma(1.0, 0.3, n)  # correlated features, as CAGE tracks are
    labels = ["0|CAGE:liver planted", "1|CAGE:brain planted", "2|CAGE:K562 planted"]
    X = pd.DataFrame(np.log10(F + 1), index=genes, columns=labels)
    if kaessmann:
        names = [f"{o}.{s}.{r}" for o in ("Brain", "Liver") for s in ("4wpc", "5wpc", "6wpc") for r in (1, 2)]
        info = pd.DataFrame({"condition": names, "organ": [c.split(".")[0] for c in names],
                             "stage": [c.split(".")[1] for c in names]})
    else:
        names = [f"Tissue {k}" for k in range(conditions)]
        info = pd.DataFrame({"condition": names, "organ": None, "stage": None})
    W = rng.normal(size=(3, len(names)))
    Y = 1.0 + X.to_numpy() @ W + rng.normal(scale=0.1, size=(n, len(names)))
    obs = pd.DataFrame(Y, index=genes, columns=names)
    split = pd.Series(np.where(np.arange(n) % 3 == 0, "test", "train"), index=genes)
    return st.Dataset("kaessmann" if kaessmann else "gtex", obs, info, {"all_zero": 2}), X, split


def _pipeline_predictions(X: pd.DataFrame, y: pd.Series, split: pd.Series):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tr, te = split[split == "train"].index, split[split == "test"].index
    mean = y.loc[tr].mean()
    pipe = make_pipeline(StandardScaler(), RidgeCV()).fit(X.loc[tr].to_numpy(), y.loc[tr].to_numpy() - mean)
    return y.loc[te].to_numpy() - mean, pipe.predict(X.loc[te].to_numpy())


def test_ridge_per_condition_equals_the_authors_pipeline_and_chunks_run_through_map_fn():
    data, X, split = _data()
    calls = []

    def map_fn(fn, items):
        calls.append(len(items))
        return [fn(x) for x in items]

    res = st.analyse_dataset(data, X, split, map_fn=map_fn)
    assert calls == [math.ceil(11 / st.CONDITIONS_PER_TASK)]
    for c in data.observed.columns:
        truth, pred = _pipeline_predictions(X, data.observed[c], split)
        row = res.metrics.set_index("condition").loc[c]
        assert row["pearson"] == pytest.approx(sps.pearsonr(truth, pred)[0], abs=1e-10)
        assert row["spearman"] == pytest.approx(sps.spearmanr(truth, pred)[0], abs=1e-10)
        assert row["rmse"] == pytest.approx(float(np.sqrt(np.mean((truth - pred) ** 2))), abs=1e-10)
        assert row["null_rmse"] == pytest.approx(float(np.sqrt(np.mean(truth**2))), abs=1e-12)
        got = res.predictions[res.predictions["condition"] == c].sort_values("gene_id")
        np.testing.assert_allclose(got["log_pred"].to_numpy(), pred, atol=1e-10)
        np.testing.assert_allclose(got["log_obs"].to_numpy(), truth, atol=1e-12)
    assert res.metrics["n_test"].iloc[0] == (split == "test").sum()
    assert res.metrics["pearson"].median() > 0.8  # the law is linear in the features: the fits find it


def test_gene_level_and_between_condition_statistics_by_hand():
    data, X, split = _data(seed=1)
    res = st.analyse_dataset(data, X, split, map_fn=st_map)
    long = res.predictions
    # per gene across tissues, one loop
    for gene in list(long["gene_id"].unique())[:5]:
        g = long[long["gene_id"] == gene]
        row = res.between.set_index("gene_id").loc[gene]
        assert row["pearson"] == pytest.approx(sps.pearsonr(g["log_obs"], g["log_pred"])[0], abs=1e-10)
    means = long.groupby("gene_id")[["log_obs", "log_pred"]].mean()
    assert res.gene_level["gene_mean_r"] == pytest.approx(sps.pearsonr(means["log_obs"], means["log_pred"])[0])
    sds = long.groupby("gene_id")[["log_obs", "log_pred"]].std()
    assert res.gene_level["gene_sd_r"] == pytest.approx(sps.pearsonr(sds["log_obs"], sds["log_pred"])[0])
    dev_o = long["log_obs"] - long.groupby("gene_id")["log_obs"].transform("mean")
    dev_p = long["log_pred"] - long.groupby("gene_id")["log_pred"].transform("mean")
    assert res.gene_level["deviation_r"] == pytest.approx(sps.pearsonr(dev_o, dev_p)[0])
    calls_o = np.abs(dev_o / np.log10(2)) > 1.0
    calls_p = np.abs(dev_p / np.log10(2)) > 1.0
    assert res.differential["tp"] == int((calls_o & calls_p).sum())
    assert res.differential["fp"] == int((~calls_o & calls_p).sum())


def st_map(fn, items):
    return [fn(x) for x in items]


def test_development_averages_replicates_then_correlates_across_stages_within_each_organ():
    data, X, split = _data(seed=2, kaessmann=True)
    res = st.analyse_dataset(data, X, split, map_fn=st_map)
    long = res.predictions
    gene = long["gene_id"].iloc[0]
    for organ in ("Brain", "Liver"):
        g = long[(long["gene_id"] == gene) & (long["organ"] == organ)]
        avg = g.groupby("stage")[["log_obs", "log_pred"]].mean()
        row = res.between[(res.between["gene_id"] == gene) & (res.between["organ"] == organ)].iloc[0]
        assert row["n"] == 3
        assert row["pearson"] == pytest.approx(sps.pearsonr(avg["log_obs"], avg["log_pred"])[0], abs=1e-10)
    assert res.summary()["n_conditions"] == 12


def test_genes_without_variation_are_skipped_and_counted():
    data, X, split = _data(seed=3)
    test_genes = split[split == "test"].index[:4]
    data.observed.loc[test_genes] = 0.7  # the same value in every tissue
    res = st.analyse_dataset(data, X, split, map_fn=st_map)
    assert res.between_skipped == 4
    assert not set(test_genes) & set(res.between["gene_id"])


def test_too_few_training_genes_for_the_features_is_an_input_error():
    data, X, split = _data(seed=4, n=12)
    split[:] = "train"
    split.iloc[:4] = "test"
    wide = pd.concat([X] * 3, axis=1)
    wide.columns = [f"{i}|CAGE:t{i}" for i in range(wide.shape[1])]
    with pytest.raises(InputError, match=r"gtex: condition 'Tissue 0': 8 training genes for 9 features"):
        st.analyse_dataset(data, wide, split, map_fn=st_map)


def test_manual_matching_mean_of_keyword_tracks_centred_by_the_training_mean(tmp_path):
    data, X, split = _data(seed=5)
    kw = tmp_path / "kw.toml"
    kw.write_text('[gtex]\n"Tissue 0" = ["liver"]\n"Tissue 1" = ["LIVER", "brain"]\n')
    manual = manual_features(kw, list(X.columns))
    assert manual["gtex"]["Tissue 1"] == ["0|CAGE:liver planted", "1|CAGE:brain planted"]
    res = st.analyse_dataset(data, X, split, map_fn=st_map, extras=st.Extras(manual=manual))
    tr, te = split[split == "train"].index, split[split == "test"].index
    for c, cols in (("Tissue 0", ["0|CAGE:liver planted"]), ("Tissue 1", manual["gtex"]["Tissue 1"])):
        pred = X.loc[te, cols].mean(axis=1) - X.loc[tr, cols].mean(axis=1).mean()
        obs = data.observed.loc[te, c] - data.observed.loc[tr, c].mean()
        want = sps.pearsonr(obs, pred)[0]
        assert res.metrics.set_index("condition").loc[c, "pearson_manual"] == pytest.approx(want, abs=1e-10)
    assert np.isnan(res.metrics.set_index("condition").loc["Tissue 2", "pearson_manual"])


def test_exon_intron_ratio_processing_by_hand(tmp_path):
    table = tmp_path / "ei.csv"
    table.write_text("transcript,Whole_Blood,Liver\nT1.1,1.0,\nT2.3,3.0,5.0\nT3.1,2.0,4.0\nT9.1,7.0,7.0\n")
    g2t = tmp_path / "g2t.tsv"
    g2t.write_text("Gene stable ID\tTranscript stable ID\nGA\tT1\nGA\tT2\nGB\tT3\n")
    got = exon_intron_by_gene(table, g2t)
    # T1's missing Liver takes its row median (1.0); per gene means; minus the tissue mean
    ga = np.array([(1.0 + 3.0) / 2, (1.0 + 5.0) / 2])
    gb = np.array([2.0, 4.0])
    centre = (ga + gb) / 2
    np.testing.assert_allclose(got.loc["GA"].to_numpy(), ga - centre)
    np.testing.assert_allclose(got.loc["GB"].to_numpy(), gb - centre)
    assert st.tissue_key("Cells - EBV-transformed lymphocytes") == st.tissue_key("Cells_EBV-transformed_lymphocytes")


def test_default_ablation_reference_is_the_model_without_windows():
    vs = [{"name": "e-w1001", "model_index": 0}, {"name": "e-full", "model_index": 0},
          {"name": "b2-full", "model_index": 1}]
    assert comb.default_reference(vs) == "b2-full"
    assert comb.default_reference([*vs, {"name": "xp-full", "model_index": 2}]) == "b2-full"
    assert comb.default_reference(vs[:2]) is None
    assert comb.default_reference([{"name": "a", "model_index": 0}, {"name": "b", "model_index": 1}]) is None
