"""import_model: XGBoost and LightGBM models score the same as their own libraries."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sapwood
from sapwood import ModelFormatError, import_model

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


def make_data(seed: int = 0, n: int = 2000, m: int = 6) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m)).astype(np.float32)
    X[:, 2] = np.round(X[:, 2] * 2) / 2  # repeated values: thresholds land on data values
    X[rng.random(X.shape) < 0.06] = np.nan
    X[rng.random(X.shape) < 0.06] = 0.0
    Z = np.nan_to_num(X)
    labels = {
        "binary": (Z[:, 0] + Z[:, 1] * Z[:, 2] - (X[:, 3] == 0) > 0).astype(int),
        "multiclass": np.minimum((Z[:, 0] > 0).astype(int) + (Z[:, 3] > 0.5) + np.isnan(X[:, 4]), 2),
        "regression": 2 * Z[:, 0] + Z[:, 1] - 3 * np.isnan(X[:, 5]),
    }
    return X, labels


def score_rows(model_thresholds: np.ndarray, X: np.ndarray, seed: int = 1) -> np.ndarray:
    """Rows with NaN, zeros, negatives and values exactly on the model's thresholds."""
    rng = np.random.default_rng(seed)
    Xt = X[:600].copy()
    thr = model_thresholds[np.abs(model_thresholds) < 1e38].astype(np.float32)
    if thr.size:
        mask = rng.random(Xt.shape) < 0.3
        Xt[mask] = rng.choice(thr, size=int(mask.sum()))
    Xt[:20] = 0.0
    Xt[20:40] = np.nan
    Xt[40:60] = -np.abs(Xt[40:60])
    return Xt


XGB_OBJ = {"binary": "binary:logistic", "multiclass": "multi:softprob",
           "regression": "reg:squarederror"}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("policy", ["depthwise", "lossguide"])
@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgboost_parity(tmp_path, task, policy, fmt) -> None:  # type: ignore[no-untyped-def]
    X, y = make_data()
    params = {"objective": XGB_OBJ[task], "grow_policy": policy, "max_leaves": 31,
              "max_depth": 6 if policy == "depthwise" else 0, "eta": 0.3, "nthread": 1}
    if task == "multiclass":
        params["num_class"] = 3
    bst = xgb.train(params, xgb.DMatrix(X, y[task]), 25)
    path = tmp_path / f"m.{fmt}"
    bst.save_model(str(path))
    sb = import_model(path)
    assert sb.objective == task and sb.num_features == X.shape[1]
    dump = json.loads(bst.save_raw("json").decode())
    conds = np.concatenate([t["split_conditions"] for t in
                            dump["learner"]["gradient_booster"]["model"]["trees"]])
    Xt = score_rows(np.asarray(conds), X)
    np.testing.assert_allclose(sb.predict(Xt, output="raw"),
                               bst.inplace_predict(Xt, predict_type="margin"), atol=1e-4, rtol=0)
    np.testing.assert_allclose(sb.predict(Xt), bst.inplace_predict(Xt), atol=1e-5, rtol=0)
    ref_c = bst.predict(xgb.DMatrix(Xt[:100]), pred_contribs=True)
    np.testing.assert_allclose(sb.predict(Xt[:100], output="contrib"), ref_c, atol=1e-4)
    assert import_model(path.read_bytes()).num_trees == sb.num_trees


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("missing", ["nan", "zero", "none"])
def test_lightgbm_parity(tmp_path, task, missing) -> None:  # type: ignore[no-untyped-def]
    X, y = make_data(2)
    if missing == "none":
        X = np.nan_to_num(X)  # no NaN while training: missing type None
    params = {"objective": task, "verbose": -1, "num_leaves": 31, "num_threads": 1,
              "zero_as_missing": missing == "zero", "min_data_in_leaf": 5}
    if task == "multiclass":
        params["num_class"] = 3
    bst = lgb.train(params, lgb.Dataset(X, y[task]), 25)
    path = tmp_path / "model.txt"
    bst.save_model(str(path))
    sb = import_model(str(path))
    thr = np.concatenate([np.atleast_1d(np.asarray(t.get("threshold", []), dtype=float))
                          for t in _lgb_trees(bst)])
    Xt = score_rows(thr, make_data(2)[0])
    np.testing.assert_allclose(sb.predict(Xt, output="raw"), bst.predict(Xt, raw_score=True),
                               atol=1e-4, rtol=0)
    np.testing.assert_allclose(sb.predict(Xt), bst.predict(Xt), atol=1e-5, rtol=0)
    got = sb.predict(Xt[:100], output="contrib")
    np.testing.assert_allclose(got.reshape(100, -1), bst.predict(Xt[:100], pred_contrib=True),
                               atol=1e-6)


def _count_labels(seed: int, X: np.ndarray) -> dict[str, np.ndarray]:
    """Positive amounts and counts (with zeros) depending on the features and on NaN."""
    rng = np.random.default_rng(seed)
    Z = np.nan_to_num(X)
    mu = np.exp(0.5 * Z[:, 0] - 0.3 * Z[:, 1] + 0.4 * np.isnan(X[:, 4]))
    return {"poisson": rng.poisson(mu).astype(float), "gamma": rng.gamma(2.0, mu / 2.0),
            "tweedie": rng.poisson(mu).astype(float) * rng.gamma(3.0, 1.0, mu.shape)}


XGB_LOG = {"poisson": "count:poisson", "gamma": "reg:gamma", "tweedie": "reg:tweedie"}


@pytest.mark.parametrize("task", ["poisson", "gamma", "tweedie"])
@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgboost_log_link_parity(tmp_path, task, fmt) -> None:  # type: ignore[no-untyped-def]
    X, _ = make_data(3)
    y = _count_labels(3, X)[task]
    params = {"objective": XGB_LOG[task], "max_depth": 5, "eta": 0.3, "nthread": 1}
    if task == "tweedie":
        params["tweedie_variance_power"] = 1.3
    bst = xgb.train(params, xgb.DMatrix(X, y), 20)
    path = tmp_path / f"m.{fmt}"
    bst.save_model(str(path))
    sb = import_model(path)
    assert sb.objective == task and sb.params["source"] == f"xgboost:{XGB_LOG[task]}"
    if task == "tweedie":
        assert sb.params["tweedie_variance_power"] == pytest.approx(1.3, rel=1e-6)
    dump = json.loads(bst.save_raw("json").decode())
    conds = np.concatenate([t["split_conditions"] for t in
                            dump["learner"]["gradient_booster"]["model"]["trees"]])
    Xt = score_rows(np.asarray(conds), X)
    assert np.isnan(Xt).any()
    np.testing.assert_allclose(sb.predict(Xt, output="raw"),
                               bst.inplace_predict(Xt, predict_type="margin"), atol=1e-4, rtol=0)
    np.testing.assert_allclose(sb.predict(Xt), bst.inplace_predict(Xt), rtol=1e-4, atol=0)


@pytest.mark.parametrize("objective", ["binary:logitraw", "rank:pairwise", "rank:ndcg",
                                       "rank:map"])
def test_xgboost_margin_objectives(objective) -> None:  # type: ignore[no-untyped-def]
    X, y = make_data(4)
    label = y["binary"] if objective in ("binary:logitraw", "rank:map") else y["multiclass"]
    d = xgb.DMatrix(X, label)
    if objective.startswith("rank:"):
        d.set_group(np.full(X.shape[0] // 25, 25))
    bst = xgb.train({"objective": objective, "max_depth": 4, "eta": 0.3, "nthread": 1}, d, 15)
    sb = import_model(bst.save_raw("json"))
    expect = "regression" if objective == "binary:logitraw" else "lambdarank"
    assert sb.objective == expect and sb.params["source"] == f"xgboost:{objective}"
    Xt = score_rows(np.zeros(0), X)
    ref = bst.inplace_predict(Xt, predict_type="margin")
    np.testing.assert_allclose(sb.predict(Xt, output="raw"), ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(sb.predict(Xt), bst.inplace_predict(Xt), atol=1e-4, rtol=0)


@pytest.mark.parametrize("task", ["poisson", "gamma", "tweedie"])
def test_lightgbm_log_link_parity(task) -> None:  # type: ignore[no-untyped-def]
    X, _ = make_data(5)
    y = _count_labels(5, X)[task]
    bst = lgb.train({"objective": task, "verbose": -1, "num_leaves": 31, "num_threads": 1,
                     "min_data_in_leaf": 5, "tweedie_variance_power": 1.7},
                    lgb.Dataset(X, y), 20)
    sb = import_model(bst.model_to_string().encode())
    assert sb.objective == task and sb.params["source"] == f"lightgbm:{task}"
    if task == "tweedie":
        assert sb.params["tweedie_variance_power"] == 1.7
    thr = np.concatenate([np.atleast_1d(np.asarray(t.get("threshold", []), dtype=float))
                          for t in _lgb_trees(bst)])
    Xt = score_rows(thr, X)
    np.testing.assert_allclose(sb.predict(Xt, output="raw"), bst.predict(Xt, raw_score=True),
                               atol=1e-4, rtol=0)
    np.testing.assert_allclose(sb.predict(Xt), bst.predict(Xt), rtol=1e-4, atol=0)


@pytest.mark.parametrize("objective, expect", [("lambdarank", "lambdarank"),
                                               ("rank_xendcg", "rank_xendcg"),
                                               ("cross_entropy", "binary"),
                                               ("xentropy", "binary")])
def test_lightgbm_margin_and_xentropy(objective, expect) -> None:  # type: ignore[no-untyped-def]
    X, y = make_data(6)
    label = y["binary"] if objective in ("cross_entropy", "xentropy") else y["multiclass"]
    ds = lgb.Dataset(X, label)
    if objective in ("lambdarank", "rank_xendcg"):
        ds.set_group(np.full(X.shape[0] // 25, 25))
    bst = lgb.train({"objective": objective, "verbose": -1, "num_leaves": 15, "num_threads": 1},
                    ds, 15)
    sb = import_model(bst.model_to_string().encode())
    assert sb.objective == expect and sb.params["source"].startswith("lightgbm:")
    Xt = score_rows(np.zeros(0), X)
    np.testing.assert_allclose(sb.predict(Xt, output="raw"), bst.predict(Xt, raw_score=True),
                               atol=1e-4, rtol=0)
    np.testing.assert_allclose(sb.predict(Xt), bst.predict(Xt), atol=1e-5, rtol=0)


def _lgb_trees(bst):  # type: ignore[no-untyped-def]
    out = []

    def visit(node):  # type: ignore[no-untyped-def]
        if "split_index" in node:
            if isinstance(node["threshold"], (int, float)):
                out.append(node["threshold"])
            visit(node["left_child"])
            visit(node["right_child"])

    for t in bst.dump_model()["tree_info"]:
        visit(t["tree_structure"])
    return [{"threshold": out}]


def test_lightgbm_categorical(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    n = 3000
    X = rng.standard_normal((n, 4)).astype(np.float32)
    X[:, 1] = rng.integers(0, 40, n)
    X[:, 3] = rng.integers(0, 5, n)
    X[rng.random(n) < 0.05, 1] = np.nan
    y = (np.isin(X[:, 1], [1, 3, 5, 7, 30, 33]) ^ (X[:, 0] > 0) ^ (X[:, 3] == 2)).astype(int)
    bst = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5,
                     "cat_smooth": 1, "max_cat_to_onehot": 4, "num_threads": 1},
                    lgb.Dataset(X, y, categorical_feature=[1, 3]), 20)
    sb = import_model(bst.model_to_string().encode())
    Xt = X[:500].copy()
    Xt[:50, 1] = -1
    Xt[50:100, 1] = 100
    Xt[100:150, 1] = -0.5
    Xt[150:200, 1] = 2.7
    Xt[200:250, 1] = np.inf
    Xt[250:300, 3] = np.nan
    np.testing.assert_allclose(sb.predict(Xt, output="raw"), bst.predict(Xt, raw_score=True),
                               atol=1e-4)
    np.testing.assert_allclose(sb.predict(Xt[:100], output="contrib"),
                               bst.predict(Xt[:100], pred_contrib=True), atol=1e-6)


def test_lightgbm_pandas_categorical() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame({
        "a": rng.standard_normal(n),
        "b": pd.Categorical(np.array(list("abcdefgh"))[rng.integers(0, 8, n)]),
        "c": rng.standard_normal(n),
    })
    y = (df.b.isin(["b", "d"]) ^ (df.a > 0)).astype(int)
    bst = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5,
                     "num_threads": 1}, lgb.Dataset(df, y), 10)
    sb = import_model(bst.model_to_string().encode())
    assert sb.pandas_categorical == [list("abcdefgh")]
    test = df.iloc[:300].copy()
    test.loc[:10, "b"] = None
    np.testing.assert_allclose(sb.predict(test), bst.predict(test), atol=1e-5)


def test_lightgbm_pandas_categorical_from_tables_files_and_model_files(tmp_path) -> None:
    """Arrow tables, Parquet and CSV files map the categories by value, as a pandas frame
    does in LightGBM; the model file keeps which features the lists belong to."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    from sapwood.scoring.api import score

    rng = np.random.default_rng(1)
    n = 3000
    # two categorical columns, one carrying no signal (it still counts for the list order)
    df = pd.DataFrame({
        "a": rng.standard_normal(n),
        "u": pd.Categorical(np.array(["p", "q"])[rng.integers(0, 2, n)]),
        "b": pd.Categorical(np.array(list("abcdefgh"))[rng.integers(0, 8, n)]),
        "c": rng.standard_normal(n),
    })
    y = (df.b.isin(["b", "d"]) ^ (df.a > 0)).astype(int)
    bst = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5,
                     "num_threads": 1}, lgb.Dataset(df, y), 10)
    sb = import_model(bst.model_to_string().encode())
    assert sb.pandas_categorical_features == ["u", "b"]
    assert sb.categorical_features == ["u", "b"]
    test = df.iloc[:400].copy()
    test.loc[:10, "b"] = None
    # categories in another order and an unseen one: mapped by value (unseen -> missing)
    b = test.b.astype(object)
    b[20:30] = "z"
    test["b"] = pd.Categorical(b, categories=["z", *reversed("abcdefgh")])
    want = bst.predict(test)
    table = pa.Table.from_pandas(test, preserve_index=False)
    np.testing.assert_allclose(sb.predict(table), want, atol=1e-6)
    path = tmp_path / "m.sapwood"
    sb.save(path)
    back = sapwood.load(path)
    assert back.pandas_categorical_features == ["u", "b"]
    np.testing.assert_allclose(back.predict(table), want, atol=1e-6)
    # files through the scoring job: Parquet (dictionary columns) and CSV (strings)
    pq.write_table(table.append_column("id", pa.array(np.arange(len(test)))), tmp_path / "in.parquet")
    test.assign(id=np.arange(len(test))).to_csv(tmp_path / "in.csv", index=False)
    for src in ("in.parquet", "in.csv"):
        score(path, str(tmp_path / src), str(tmp_path / f"{src}.out.parquet"), id_columns=["id"])
        got = pq.read_table(tmp_path / f"{src}.out.parquet")
        np.testing.assert_allclose(got["prediction"].to_numpy(), want, atol=1e-6, err_msg=src)
    # numpy input keeps LightGBM's meaning: the codes themselves
    codes = test.assign(u=test.u.cat.codes, b=test.b.cat.codes.replace(-1, np.nan)).to_numpy(
        dtype=float)
    np.testing.assert_allclose(sb.predict(codes), bst.predict(codes), atol=1e-6)


@pytest.mark.parametrize("onehot", [1, 64])
def test_xgboost_categorical_splits(onehot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Partition and one-hot categorical splits score as XGBoost does: category codes of
    pandas category columns, or the codes themselves; unseen, negative and missing codes
    included. Arrow dictionary columns are refused (their codes depend on the table)."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(3)
    n = 4000
    df = pd.DataFrame({
        "a": rng.standard_normal(n),
        "c": pd.Categorical(rng.choice([f"k{i}" for i in range(40)], n)),
        "d": pd.Categorical(rng.choice(list("xyz"), n)),
    })
    df.loc[rng.random(n) < 0.1, "c"] = None
    y = ((df.a > 0) ^ df.c.isin([f"k{i}" for i in range(0, 40, 3)]) ^ (df.d == "y")).astype(int)
    bst = xgb.train({"objective": "binary:logistic", "max_cat_to_onehot": onehot,
                     "max_depth": 4, "nthread": 1},
                    xgb.DMatrix(df, y, enable_categorical=True), 15)
    sb = import_model(bst.save_raw("json"))
    assert sb.category_code_features == ["c", "d"] and sb.categorical_features == ["c", "d"]
    assert any("split_type" in t for t in sb._trees)  # categorical splits were imported
    want = bst.predict(xgb.DMatrix(df, enable_categorical=True))
    np.testing.assert_allclose(sb.predict(df), want, atol=1e-6)
    with pytest.raises(sapwood.DataError, match="'c'.*Arrow dictionary"):
        sb.predict(pa.Table.from_pandas(df, preserve_index=False))
    as_codes = df.assign(c=df.c.cat.codes.replace(-1, np.nan), d=df.d.cat.codes)
    np.testing.assert_allclose(sb.predict(pa.Table.from_pandas(as_codes, preserve_index=False)),
                               want, atol=1e-6)
    codes = np.column_stack([df.a.to_numpy(), df.c.cat.codes.replace(-1, np.nan).to_numpy(float),
                             df.d.cat.codes.to_numpy(float)])
    codes[:40, 1] = 45  # a category XGBoost never saw
    codes[40:50, 1] = -3
    want = bst.predict(xgb.DMatrix(codes, feature_names=["a", "c", "d"],
                                   feature_types=["float", "c", "c"], enable_categorical=True))
    np.testing.assert_allclose(sb.predict(codes), want, atol=1e-6)
    path = tmp_path / "m.sapwood"
    sb.save(path)
    back = sapwood.load(path)
    assert back.category_code_features == ["c", "d"]
    np.testing.assert_allclose(back.predict(codes), want, atol=1e-6)
    with pytest.raises(sapwood.DataError, match="'c'.*category codes"):
        sb.predict(df.assign(c=df.c.astype(str)))


# ----------------------------------------------------------------------------- malformed
def _xgb_doc() -> dict:  # type: ignore[type-arg]
    X, y = make_data(n=300)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, y["binary"]),
                    3)
    return json.loads(bst.save_raw("json").decode())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d["learner"].pop("objective"), "objective"),
        (lambda d: d["learner"]["objective"].update(name="survival:aft"), "survival:aft"),
        (lambda d: d["learner"]["learner_model_param"].update(base_score="0") or
         d["learner"]["objective"].update(name="count:poisson"), "base_score"),
        (lambda d: d["learner"]["gradient_booster"].update(name="gblinear"), "gbtree"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].update(
            split_indices=[99] * len(d["learner"]["gradient_booster"]["model"]["trees"][0]
                                     ["split_indices"])), "split_indices"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][1].update(
            left_children=[5, -1, -1]), "trees\\[1\\]"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].update(
            split_type=[1] + [0] * 100), "split_type"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].update(
            split_type=[1] + [0] * (len(d["learner"]["gradient_booster"]["model"]["trees"][0]
                                        ["split_type"]) - 1)), "categories_nodes"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].update(
            split_type=[3] * len(d["learner"]["gradient_booster"]["model"]["trees"][0]
                                 ["split_type"])), "split_type"),
        (lambda d: d["learner"]["gradient_booster"]["model"].update(tree_info=[0]), "tree_info"),
        (lambda d: d["learner"]["learner_model_param"].update(base_score="abc"), "base_score"),
    ],
)
def test_xgboost_malformed(edit, match) -> None:  # type: ignore[no-untyped-def]
    d = _xgb_doc()
    edit(d)
    with pytest.raises(ModelFormatError, match=match):
        import_model(json.dumps(d).encode())


def test_lightgbm_malformed() -> None:
    X, y = make_data(n=300)
    text = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y["binary"]),
                     3).model_to_string()
    with pytest.raises(ModelFormatError, match="left_child"):
        import_model(text.replace("left_child=", "left_child=77 ", 1).encode())
    with pytest.raises(ModelFormatError, match="split_feature"):
        import_model(text.replace("split_feature=", "split_feature=1000 ", 1).encode())
    with pytest.raises(ModelFormatError, match="objective"):
        import_model(text.replace("objective=binary", "objective=cross_entropy_lambda",
                                  1).encode())
    with pytest.raises(ModelFormatError, match="tweedie_variance_power"):
        import_model(text.replace("objective=binary", "objective=tweedie "
                                  "tweedie_variance_power:2.5", 1).encode())
    with pytest.raises(ModelFormatError, match="threshold"):
        import_model(text.replace("threshold=", "threshold=abc ", 1).encode())


@pytest.mark.parametrize("blob", [b"", b"garbage", b"{\"learner\": 3}", b"{L\x00\x00", b"{"])
def test_unknown_or_truncated(blob: bytes) -> None:
    with pytest.raises(ModelFormatError):
        import_model(blob)


def test_truncated_ubjson(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = make_data(n=300)
    bst = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y["binary"]), 3)
    raw = bytes(bst.save_raw("ubj"))
    for cut in (10, len(raw) // 2, len(raw) - 3):
        with pytest.raises(ModelFormatError):
            import_model(raw[:cut])
    with pytest.raises(ModelFormatError):
        import_model(tmp_path / "does-not-exist.json")


def test_imported_booster_is_a_booster() -> None:
    X, y = make_data(n=300)
    bst = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, y["regression"]), 3)
    sb = import_model(bytes(bst.save_raw("json")))
    assert isinstance(sb, sapwood.Booster) and sb.bin_edges == []
    assert sb.feature_names == [f"f{i}" for i in range(X.shape[1])]


# ----------------------------------------------------------------------------- issue 14
def _xgb_cat_doc() -> dict:  # type: ignore[type-arg]
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    n = 500
    df = pd.DataFrame({"a": rng.standard_normal(n),
                       "c": pd.Categorical(rng.choice([f"k{i}" for i in range(12)], n))})
    y = ((df.a > 0) ^ df.c.isin(["k1", "k4", "k7"])).astype(int)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                    xgb.DMatrix(df, y, enable_categorical=True), 3)
    return json.loads(bst.save_raw("json").decode())  # type: ignore[no-any-return]


def _first_cat_tree(d: dict) -> dict:  # type: ignore[type-arg]
    trees = d["learner"]["gradient_booster"]["model"]["trees"]
    return next(t for t in trees if t["categories_nodes"])  # type: ignore[no-any-return]


@pytest.mark.parametrize("key", ["categories_segments", "categories_sizes"])
def test_xgboost_category_offsets_near_2_62_are_refused(key: str) -> None:
    # issue 14 item 7: segs + sizes wrapped around int64 and imported an empty category set
    d = _xgb_cat_doc()
    t = _first_cat_tree(d)
    t[key] = [2**62 + 1] * len(t[key])
    if key == "categories_sizes":
        t["categories_segments"] = [2**62] * len(t[key])
    with pytest.raises(ModelFormatError, match="categories_segments"):
        import_model(json.dumps(d).encode())


def test_xgboost_huge_num_feature_is_refused_before_allocating() -> None:
    # issue 14 item 10: a 7 KB file declaring 2**31 features built a 1.8 GB name list
    d = _xgb_doc()
    d["learner"]["feature_names"] = []
    d["learner"]["feature_types"] = []
    d["learner"]["learner_model_param"]["num_feature"] = str(2**31)
    with pytest.raises(ModelFormatError, match="num_feature"):
        import_model(json.dumps(d).encode())


def _lgb_text(objective: str = "binary", **kw: object) -> str:
    X, y = make_data(n=300)
    label = y["multiclass"] if objective == "multiclass" else y["binary"]
    return lgb.train({"objective": objective, "verbose": -1, "num_leaves": 4, **kw},
                     lgb.Dataset(X, label), 2).model_to_string()


@pytest.mark.parametrize("edit, match", [
    (("max_feature_idx=5", "max_feature_idx=1000000000"), "max_feature_idx|feature_names"),
    (("num_class=1", "num_class=1000000000"), "num_class"),
    (("objective=binary sigmoid:1", "objective=binary sigmoid:abc"), "sigmoid"),
    (("num_class=1", "num_class=-5"), "num_class"),
    (("num_class=1", "num_class=0"), "num_class"),
])
def test_lightgbm_declared_sizes_and_bad_fields(edit: tuple[str, str], match: str) -> None:
    # issue 14 items 10 and 13
    text = _lgb_text()
    assert edit[0] in text
    with pytest.raises(ModelFormatError, match=match):
        import_model(text.replace(edit[0], edit[1], 1).encode())


def test_lightgbm_huge_feature_count_without_names_is_refused() -> None:
    text = _lgb_text()
    text = "\n".join(line for line in text.splitlines()
                     if not line.startswith(("feature_names=", "feature_infos=")))
    text = text.replace("max_feature_idx=5", "max_feature_idx=1000000000", 1)
    with pytest.raises(ModelFormatError, match="max_feature_idx"):
        import_model(text.encode())


def test_lightgbm_multiclass_with_one_class_is_refused() -> None:
    text = _lgb_text("multiclass", num_class=3)
    bad = text.replace("num_class=3", "num_class=1", 1).replace(
        "num_tree_per_iteration=3", "num_tree_per_iteration=1", 1)
    with pytest.raises(ModelFormatError, match="num_class"):
        import_model(bad.encode())


@pytest.mark.parametrize("line, match", [
    ("pandas_categorical:" + "[" * 100_000 + "]" * 100_000, "pandas_categorical"),
    ("pandas_categorical:[1, 2]", "pandas_categorical"),
    ("pandas_categorical:{}", "pandas_categorical"),
    ('pandas_categorical:[["a", ["b"]]]', "pandas_categorical"),
    ("pandas_categorical:5", "pandas_categorical"),
])
def test_lightgbm_pandas_categorical_must_be_lists_of_categories(line: str, match: str) -> None:
    text = _lgb_text()
    assert "pandas_categorical:null" in text
    with pytest.raises(ModelFormatError, match=match):
        import_model(text.replace("pandas_categorical:null", line).encode())


def test_lightgbm_duplicate_feature_names_are_refused() -> None:
    text = _lgb_text()
    line = next(s for s in text.splitlines() if s.startswith("feature_names="))
    names = line.split("=", 1)[1].split()
    dup = "feature_names=" + " ".join([names[0]] * len(names))
    with pytest.raises(ModelFormatError, match="duplicate"):
        import_model(text.replace(line, dup).encode())


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["learner"]["learner_model_param"].update(num_feature=float("inf")),
     "num_feature"),
    (lambda d: d["learner"]["objective"].update(name=["binary:logistic"]), "objective"),
    (lambda d: d["learner"].update(feature_names=5), "feature_names"),
    (lambda d: d["learner"].update(feature_names=["a", "a", "b", "c", "d", "e"]), "duplicate"),
    (lambda d: d["learner"]["learner_model_param"].update(num_class="1e9") or
     d["learner"]["objective"].update(name="multi:softprob"), "num_class"),
    (lambda d: d["learner"]["learner_model_param"].update(num_class="1") or
     d["learner"]["objective"].update(name="multi:softprob"), "num_class"),
    (lambda d: d["learner"]["learner_model_param"].update(num_class="-5") or
     d["learner"]["objective"].update(name="multi:softprob"), "num_class"),
])
def test_xgboost_foreign_exceptions_become_model_format_errors(edit, match) -> None:  # type: ignore[no-untyped-def]
    # issue 14 item 13: OverflowError, TypeError, ... escaped the importer
    d = _xgb_doc()
    edit(d)
    with pytest.raises(ModelFormatError, match=match):
        import_model(json.dumps(d).encode())


def test_deeply_nested_json_is_a_model_format_error() -> None:
    deep = b'{"learner": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ModelFormatError, match="JSON"):
        import_model(deep)
    with pytest.raises(ModelFormatError):
        sapwood.model.io.loads_any(deep)


def test_multiclass_parallel_trees_are_regrouped_into_rounds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # several trees per output per round: imported in rounds of one tree per output, so the
    # Booster saves and re-loads (it used to import, then fail to load once saved)
    X, y = make_data(n=600)
    bst = xgb.train({"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 2,
                     "max_depth": 3, "nthread": 1}, xgb.DMatrix(X, y["multiclass"]), 3)
    sb = import_model(bst.save_raw("json"))
    want = bst.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(sb.predict(X), want, atol=1e-6)
    path = tmp_path / "m.sapwood"
    sb.save(path)
    np.testing.assert_allclose(sapwood.load(path).predict(X), want, atol=1e-6)
    assert sb.provenance["imported_from"] == "xgboost-json"
    assert sb.provenance["source_version"].startswith("XGBoost ")
