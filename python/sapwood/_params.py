"""Training parameters: defaults, validation and the dict handed to the C++ core."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import objectives as _objectives
from .errors import ParameterError

__all__ = ["DEFAULTS", "resolve_params", "resolve_n_jobs"]

DEFAULTS: dict[str, Any] = {
    "objective": "regression",
    "num_class": 1,
    "metric": None,
    "n_estimators": 100,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": -1,
    "min_child_samples": 20,
    "min_child_weight": 1e-3,
    "min_split_gain": 0.0,
    "reg_lambda": 0.0,
    "reg_alpha": 0.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "max_bin": 255,
    "bin_sample_rows": 200_000,
    "random_state": 0,
    "n_jobs": -1,
    # categorical features (sapwood.data, cpp/src/tree/categorical_split.cpp)
    "max_cat_to_onehot": 4,
    "max_cat_threshold": 32,
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "min_data_per_group": 100,
    # per feature -1 / 0 / +1, or {feature name: direction} (resolve_monotone)
    "monotone_constraints": None,
    # "basic" (LightGBM's: children bounded by the midpoint of their outputs) or "intermediate"
    # (bounds recomputed after every split from the current outputs across each constrained
    # split: looser, so a better fit; GrowParams::monotone_method in cpp/.../grower.hpp)
    "monotone_constraints_method": "basic",
    # where a constrained feature's missing values rank: "low" (below every value: NaN goes
    # left at every split on it), "high", or "free" (each split picks, as LightGBM: the
    # prediction at NaN is then not ordered with the predictions at values)
    "monotone_missing": "low",
    # lists of features (names or positions) that may share a branch (resolve_interactions)
    "interaction_constraints": None,
    "cat_min_count": 5,
    # "native" (category splits), "target_stats" (every categorical feature becomes its ordered
    # target statistic, a numeric feature) or "auto" (target stats for features with more than
    # cat_ts_min_categories categories, native splits for the others); see sapwood.data
    "cat_encoding": "native",
    "cat_ts_min_categories": 64,
    "cat_ts_prior_weight": 1.0,
    # log-link objectives (poisson, gamma, tweedie); the defaults are LightGBM's
    "tweedie_variance_power": 1.5,
    "poisson_max_delta_step": 0.7,
    # robust losses: huber's delta (residuals beyond it count linearly) and quantile's level
    "huber_delta": 1.0,
    # quantile: 0.5 (the median) when not given; a list of strictly increasing levels trains
    # one output per level whose predictions never cross (multi-quantile; num_class = count)
    "alpha": None,
    # class weights (binary, multiclass): "balanced" (n / (classes * count of the class)) or a
    # mapping label -> weight; scale_pos_weight multiplies the positive class's weight (binary).
    # Both multiply the sample weights.
    "class_weight": None,
    "scale_pos_weight": 1.0,
    # ranking (lambdarank, rank_xendcg; LightGBM's names and defaults): pairs are formed with
    # the top lambdarank_truncation_level documents of each query; lambdarank_norm normalises
    # each query's gradients; label_gain: the gain of each relevance label (None: 2^label - 1)
    "lambdarank_truncation_level": 30,
    "lambdarank_norm": True,
    "label_gain": None,
    # quantized gradients (LightGBM's names and defaults): each tree's gradients and hessians
    # are stochastically rounded to num_grad_quant_bins integer levels (seeded by random_state,
    # the same on any thread count); splits are chosen from their sums in narrow histogram bins;
    # quant_train_renew_leaf re-fits the leaf values from the full-precision gradients
    "use_quantized_grad": False,
    "num_grad_quant_bins": 4,
    "quant_train_renew_leaf": True,
    # "leafwise" (the best leaf splits next, up to num_leaves) or "oblivious" (CatBoost's
    # symmetric trees: every node of a level shares one split, chosen by the gain summed over
    # the level; max_depth levels, 6 when not given, and num_leaves is not read; categorical
    # features take one-vs-rest splits or many-vs-many ones (categories ordered by the level's
    # gradient ratio), or cat_encoding="target_stats" for ordered target statistics as
    # CatBoost does). In this mode reg_lambda defaults to 3.0 (CatBoost's
    # l2_leaf_reg) and min_child_samples to 1 when not given. Scored by a dedicated predictor
    # (the leaf index is the bits of the level comparisons).
    "grow_policy": "leafwise",
    # oblivious mode: seeded normal noise on the summed split gains of each level, standard
    # deviation random_strength * 10% of the level's best gain (CatBoost's random_strength:
    # splits close to the best are sometimes taken instead); 0: none
    "random_strength": 0.0,
    # oblivious mode: how a level's candidate splits are scored: "l2" (the Newton gain summed
    # over the level's nodes) or "cosine" (CatBoost's default: the cosine between the
    # gradients and the candidate's leaf values over the level's rows); with "cosine",
    # random_strength's noise is CatBoost's (random_strength * the gradients' root mean square,
    # fading once rounds * learning_rate pass ln(rows))
    "score_function": "l2",
    # oblivious mode: "plain", or "ordered" (CatBoost's ordered boosting: each tree's splits are
    # chosen on gradients taken at "ordered" scores, where a row's share of every earlier tree
    # is the leaf value of the rows before it in one seeded permutation, so its own label never
    # shaped the prediction its gradient is taken at; the saved leaf values are the plain ones
    # from all rows). CatBoost's remedy for prediction shift on small tables; needs subsample 1
    # and a Newton-step objective (not l1, huber, quantile or a custom loss)
    "boosting_type": "plain",
    # oblivious mode: CatBoost's Bayesian bootstrap; each tree weights every row's gradient and
    # hessian by (-ln U)^bagging_temperature (U uniform, seeded per round and row; capped at
    # 16); 0: no weights
    "bagging_temperature": 0.0,
}

# objective name or alias -> canonical name (from the registry, sapwood.objectives)
OBJECTIVES: dict[str, str] = {
    **{a: o.name for o in _objectives.REGISTRY for a in o.aliases},
    **{o.name: o.name for o in _objectives.REGISTRY},
}

# The names LightGBM, XGBoost and scikit-learn users type for the same parameters (only those
# with the same meaning). `alpha` is the quantile objective's level (XGBoost's `quantile_alpha`;
# LightGBM's `alpha` also means huber's delta, XGBoost's an L1 penalty: resolve_params rejects
# `alpha` with any other objective rather than guess). Each maps to one canonical name; giving a
# name twice is an error.
ALIASES: dict[str, str] = {
    "num_iterations": "n_estimators", "num_iteration": "n_estimators",
    "num_boost_round": "n_estimators", "num_trees": "n_estimators", "num_round": "n_estimators",
    "eta": "learning_rate", "shrinkage_rate": "learning_rate",
    "num_leaf": "num_leaves", "max_leaves": "num_leaves", "max_leaf_nodes": "num_leaves",
    "min_data_in_leaf": "min_child_samples", "min_data_per_leaf": "min_child_samples",
    "min_samples_leaf": "min_child_samples",
    "min_sum_hessian_in_leaf": "min_child_weight", "min_hessian": "min_child_weight",
    "min_gain_to_split": "min_split_gain", "gamma": "min_split_gain",
    "min_split_loss": "min_split_gain",
    "lambda_l2": "reg_lambda", "lambda": "reg_lambda", "l2_regularization": "reg_lambda",
    "lambda_l1": "reg_alpha",
    "monotone_constraint_method": "monotone_constraints_method",
    "mc_method": "monotone_constraints_method",
    "bagging_fraction": "subsample", "sub_row": "subsample",
    "feature_fraction": "colsample_bytree",
    "max_bins": "max_bin",
    "seed": "random_state", "random_seed": "random_state",
    "num_threads": "n_jobs", "nthread": "n_jobs", "n_threads": "n_jobs",
    "num_classes": "num_class",
    "eval_metric": "metric",
    "quantile_alpha": "alpha",
    "huber_slope": "huber_delta",
}


def _canonical_names(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for k, v in params.items():
        name = ALIASES.get(k, k)
        if name in given:
            raise ParameterError(
                f"parameter '{name}' is given twice (as {given[name]!r} and {k!r})"
            )
        given[name] = k
        out[name] = v
    unknown = sorted(set(out) - set(DEFAULTS))
    if unknown:
        import difflib

        hints = []
        for u in unknown:
            close = difflib.get_close_matches(u, [*DEFAULTS, *ALIASES], n=1, cutoff=0.75)
            hints.append(f"{u!r}" + (f" (did you mean {ALIASES.get(close[0], close[0])!r}?)"
                                     if close else ""))
        raise ParameterError(
            f"unknown parameter(s): {', '.join(hints)}; known: {', '.join(sorted(DEFAULTS))}"
        )
    return out


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Number of threads for n_jobs (None or <= 0: every core this process may use).

    Never more than those cores: more threads cannot run faster, and asking for hundreds
    (or for 2**31, from a model file) ended the process or failed every predict.
    """
    try:
        avail = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        avail = os.cpu_count() or 1
    if n_jobs is None or n_jobs <= 0:
        if n_jobs is None or n_jobs == -1 or n_jobs == 0:
            return avail
        return max(1, avail + 1 + n_jobs)  # -2: all but one, as in scikit-learn
    return min(int(n_jobs), avail)


def _number(name: str, value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
        value, "__index__"
    ) and not hasattr(value, "__float__"):
        raise ParameterError(f"parameter '{name}' must be a number, got {value!r}")
    if integer:
        try:
            iv = int(value)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter '{name}' must be an integer, got {value!r}") from None
        if iv != value:
            raise ParameterError(f"parameter '{name}' must be an integer, got {value!r}")
        return iv
    fv = float(value)
    if fv != fv:
        raise ParameterError(f"parameter '{name}' must not be NaN")
    return fv


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge params over the defaults and validate every value; unknown names are errors."""
    params = _canonical_names(params or {})
    p = {**DEFAULTS, **{k: v for k, v in params.items()}}
    if p["grow_policy"] == "oblivious":
        if "reg_lambda" not in params:
            p["reg_lambda"] = 3.0  # CatBoost's l2_leaf_reg
        if "min_child_samples" not in params:
            # CatBoost's symmetric trees have no minimum rows per leaf (l2_leaf_reg alone
            # shrinks small leaves); 20 froze most nodes of deep levels on small tables and cost
            # accuracy there (benchmarks/compare/oblivious.py --accuracy --repeats 5)
            p["min_child_samples"] = 1
        if "max_depth" not in params or p["max_depth"] is None or p["max_depth"] == -1:
            p["max_depth"] = 6
    objective = _objectives.resolve(p["objective"])
    p["objective"] = objective.name
    if p["alpha"] is not None and objective.name != "quantile":
        raise ParameterError(
            f"parameter 'alpha' is the quantile objective's level; the {objective.name!r} "
            "objective does not read it (huber: huber_delta; an L1 penalty: reg_alpha)")

    def check(name: str, ok: bool, rule: str) -> None:
        if not ok:
            raise ParameterError(f"parameter '{name}' must be {rule}, got {p[name]!r}")

    for name in ("num_class", "n_estimators", "num_leaves", "max_depth", "min_child_samples",
                 "max_bin", "bin_sample_rows", "random_state", "max_cat_to_onehot",
                 "max_cat_threshold", "min_data_per_group", "cat_min_count",
                 "cat_ts_min_categories", "lambdarank_truncation_level"):
        p[name] = _number(name, p[name], integer=True)
    for name in ("learning_rate", "min_child_weight", "min_split_gain", "reg_lambda",
                 "reg_alpha", "subsample", "colsample_bytree", "cat_smooth", "cat_l2",
                 "cat_ts_prior_weight", "tweedie_variance_power", "poisson_max_delta_step",
                 "huber_delta", "scale_pos_weight", "random_strength", "bagging_temperature"):
        p[name] = _number(name, p[name])
    check("n_estimators", p["n_estimators"] >= 1, ">= 1")
    check("learning_rate", 0 < p["learning_rate"] < float("inf"), "> 0 and finite")
    check("num_leaves", 2 <= p["num_leaves"] <= 131072, "in [2, 131072]")
    check("max_depth", p["max_depth"] != 0, "-1 (no limit) or >= 1")
    check("min_child_samples", p["min_child_samples"] >= 0, ">= 0")
    check("min_child_weight", 0 <= p["min_child_weight"] < float("inf"), ">= 0 and finite")
    check("min_split_gain", 0 <= p["min_split_gain"] < float("inf"), ">= 0 and finite")
    check("reg_lambda", 0 <= p["reg_lambda"] < float("inf"), ">= 0 and finite")
    check("reg_alpha", 0 <= p["reg_alpha"] < float("inf"), ">= 0 and finite")
    check("subsample", 0 < p["subsample"] <= 1, "in (0, 1]")
    check("colsample_bytree", 0 < p["colsample_bytree"] <= 1, "in (0, 1]")
    check("max_bin", 2 <= p["max_bin"] <= 65534, "in [2, 65534]")
    check("bin_sample_rows", p["bin_sample_rows"] >= 1, ">= 1")
    check("random_state", 0 <= p["random_state"] < 2**63, "in [0, 2**63)")
    check("max_cat_to_onehot", p["max_cat_to_onehot"] >= 1, ">= 1")
    check("max_cat_threshold", p["max_cat_threshold"] >= 1, ">= 1")
    check("min_data_per_group", p["min_data_per_group"] >= 1, ">= 1")
    check("cat_min_count", p["cat_min_count"] >= 1, ">= 1")
    check("cat_smooth", 0 <= p["cat_smooth"] < float("inf"), ">= 0 and finite")
    check("cat_l2", 0 <= p["cat_l2"] < float("inf"), ">= 0 and finite")
    check("cat_encoding", p["cat_encoding"] in ("native", "target_stats", "auto"),
          "'native', 'target_stats' or 'auto'")
    check("cat_ts_min_categories", p["cat_ts_min_categories"] >= 0, ">= 0")
    check("cat_ts_prior_weight", 0 < p["cat_ts_prior_weight"] < float("inf"), "> 0 and finite")
    check("tweedie_variance_power", 1 < p["tweedie_variance_power"] < 2, "in (1, 2)")
    check("poisson_max_delta_step", 0 <= p["poisson_max_delta_step"] < float("inf"),
          ">= 0 and finite")
    check("huber_delta", 0 < p["huber_delta"] < float("inf"), "> 0 and finite")
    check("scale_pos_weight", 0 < p["scale_pos_weight"] < float("inf"), "> 0 and finite")
    check("grow_policy", p["grow_policy"] in ("leafwise", "oblivious"),
          "'leafwise' or 'oblivious'")
    check("score_function", p["score_function"] in ("l2", "cosine"), "'l2' or 'cosine'")
    check("boosting_type", p["boosting_type"] in ("plain", "ordered"), "'plain' or 'ordered'")
    if p["boosting_type"] == "ordered":
        if p["grow_policy"] != "oblivious":
            raise ParameterError("boosting_type='ordered' needs grow_policy='oblivious'")
        if p["subsample"] < 1:
            raise ParameterError("boosting_type='ordered' needs every row in every tree: "
                                 f"subsample must be 1, got {p['subsample']!r}")
        if p["objective"] in ("l1", "huber", "quantile"):
            raise ParameterError(f"boosting_type='ordered' needs a Newton-step objective; "
                                 f"'{p['objective']}' re-fits its leaves to the residuals")
    if p["score_function"] == "cosine" and p["grow_policy"] != "oblivious":
        raise ParameterError("score_function='cosine' needs grow_policy='oblivious' (the "
                             "leaf-wise grower scores splits by their Newton gain)")
    check("random_strength", 0 <= p["random_strength"] < float("inf"), ">= 0 and finite")
    check("bagging_temperature", 0 <= p["bagging_temperature"] <= 100, "in [0, 100]")
    if p["grow_policy"] == "oblivious":
        check("max_depth", 1 <= p["max_depth"] <= 16, "in [1, 16] with grow_policy='oblivious'")
        for name in ("monotone_constraints", "interaction_constraints"):
            if p[name] is not None:
                raise ParameterError(f"parameter '{name}' is not supported with "
                                     "grow_policy='oblivious'")
        if p["use_quantized_grad"]:
            raise ParameterError("use_quantized_grad is not supported with "
                                 "grow_policy='oblivious' yet (its levels are built from "
                                 "full-precision histograms)")
    check("lambdarank_truncation_level", p["lambdarank_truncation_level"] >= 1, ">= 1")
    check("lambdarank_norm", isinstance(p["lambdarank_norm"], (bool, np.bool_)), "True or False")
    p["lambdarank_norm"] = bool(p["lambdarank_norm"])
    for name in ("use_quantized_grad", "quant_train_renew_leaf"):
        check(name, isinstance(p[name], (bool, np.bool_)), "True or False")
        p[name] = bool(p[name])
    p["num_grad_quant_bins"] = _number("num_grad_quant_bins", p["num_grad_quant_bins"],
                                       integer=True)
    check("num_grad_quant_bins", 2 <= p["num_grad_quant_bins"] <= 127, "in [2, 127]")
    p["label_gain"] = _label_gain(p["label_gain"])
    if p["scale_pos_weight"] != 1.0 and objective.name != "binary":
        raise ParameterError(f"parameter 'scale_pos_weight' applies to the binary objective, "
                             f"not {objective.name!r}")
    if objective.name == "quantile":
        p["alpha"] = 0.5 if p["alpha"] is None else _alpha(p["alpha"])
    p["class_weight"] = _class_weight(p["class_weight"], objective.name)
    if p["max_depth"] < 0:
        p["max_depth"] = -1
    if objective.multi_output:
        check("num_class", p["num_class"] >= 2, f">= 2 for the {objective.name} objective")
        check("cat_encoding", p["cat_encoding"] == "native",
              f"'native' for the {objective.name} objective (target statistics are one number per "
              "row)")
    elif objective.multi_level:
        p["num_class"] = len(p["alpha"]) if isinstance(p["alpha"], list) else 1
    elif objective.any_outputs:  # a custom loss: num_class outputs (1 when not given)
        check("num_class", p["num_class"] >= 1, f">= 1 for the {objective.name} objective")
    else:
        p["num_class"] = 1
    n_jobs = p["n_jobs"]
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int)):
        raise ParameterError(f"parameter 'n_jobs' must be an integer or None, got {n_jobs!r}")
    p["n_jobs"] = resolve_n_jobs(n_jobs)
    metric = p["metric"]
    if metric is not None and not isinstance(metric, (str, list, tuple)):
        raise ParameterError(f"parameter 'metric' must be a name or a list of names, got {metric!r}")
    mc = p["monotone_constraints"]
    if mc is not None:
        if not isinstance(mc, (list, tuple, dict)):
            raise ParameterError("parameter 'monotone_constraints' must be a list of -1/0/1 per "
                                 f"feature or a mapping feature -> direction, got {mc!r}")
        if any(v not in (-1, 0, 1) or isinstance(v, bool)
               for v in (mc.values() if isinstance(mc, dict) else mc)):
            raise ParameterError("monotone_constraints directions must be -1, 0 or 1")
        if any(mc.values() if isinstance(mc, dict) else mc) and objective.name in (
                "l1", "huber", "quantile"):
            raise ParameterError(f"monotone_constraints with the {objective.name} objective: its "
                                 "leaves are re-fitted after growth, which would break them")
        if any(mc.values() if isinstance(mc, dict) else mc) and p["use_quantized_grad"] and \
                p["quant_train_renew_leaf"]:
            raise ParameterError("monotone_constraints with use_quantized_grad and "
                                 "quant_train_renew_leaf: the re-fitted leaf values would break "
                                 "them (set quant_train_renew_leaf=False)")
    if p["monotone_constraints_method"] not in _MONOTONE_METHODS:
        raise ParameterError("parameter 'monotone_constraints_method' must be one of "
                             f"{sorted(_MONOTONE_METHODS)}, got {p['monotone_constraints_method']!r}"
                             " (LightGBM's 'advanced' is not offered; 'intermediate' is the "
                             "closest)")
    if p["monotone_missing"] not in _MONOTONE_MISSING:
        raise ParameterError("parameter 'monotone_missing' must be one of "
                             f"{sorted(_MONOTONE_MISSING)}, got {p['monotone_missing']!r}")
    ic = p["interaction_constraints"]
    if ic is not None and (not isinstance(ic, (list, tuple)) or not all(
            isinstance(g, (list, tuple)) for g in ic)):
        raise ParameterError("parameter 'interaction_constraints' must be a list of lists of "
                             f"features (names or positions), got {ic!r}")
    return p


def resolve_interactions(p: Mapping[str, Any], feature_names: Sequence[str]
                         ) -> list[list[int]] | None:
    """interaction_constraints as sets of feature positions. A feature in no set is its own
    set: it may be split on, but never in a branch with another feature."""
    ic = p["interaction_constraints"]
    if ic is None:
        return None
    names = list(feature_names)
    index = {n: i for i, n in enumerate(names)}
    sets: list[list[int]] = []
    for g in ic:
        cur = []
        for f in g:
            if isinstance(f, str):
                if f not in index:
                    raise ParameterError(f"interaction_constraints name feature {f!r}, which is "
                                         "not in the data")
                cur.append(index[f])
            elif isinstance(f, (int, np.integer)) and not isinstance(f, bool) \
                    and 0 <= int(f) < len(names):
                cur.append(int(f))
            else:
                raise ParameterError(f"interaction_constraints: {f!r} is not a feature name or a "
                                     f"position in [0, {len(names)})")
        sets.append(sorted(set(cur)))
    listed = {f for g in sets for f in g}
    sets.extend([j] for j in range(len(names)) if j not in listed)
    return sets


def resolve_monotone(p: Mapping[str, Any], feature_names: Sequence[str],
                     categorical: Sequence[bool]) -> list[int] | None:
    """monotone_constraints as one direction per feature (None: no constraint), checked
    against the data's features."""
    mc = p["monotone_constraints"]
    if mc is None:
        return None
    names = list(feature_names)
    if isinstance(mc, dict):
        unknown = [k for k in mc if k not in names]
        if unknown:
            raise ParameterError(f"monotone_constraints name feature(s) {unknown[:5]} that are "
                                 f"not in the data")
        out = [int(mc.get(n, 0)) for n in names]
    else:
        out = [int(v) for v in mc]
        if len(out) != len(names):
            raise ParameterError(f"monotone_constraints has {len(out)} entries but the data has "
                                 f"{len(names)} features")
    bad = [n for n, v, c in zip(names, out, categorical, strict=True) if v and c]
    if bad:
        raise ParameterError(f"monotone_constraints on categorical feature(s) {bad[:5]}: "
                             "categories have no order")
    return out if any(out) else None


def _label_gain(value: Any) -> list[float] | None:
    """None or a list of finite gains >= 0, one per relevance label 0, 1, ..."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterError(f"parameter 'label_gain' must be a list of gains (one per relevance "
                             f"label), got {value!r}")
    out = [_number(f"label_gain[{i}]", v) for i, v in enumerate(value)]
    if not out:
        raise ParameterError("parameter 'label_gain' must hold at least one gain")
    for i, g in enumerate(out):
        if not 0 <= g < float("inf"):
            raise ParameterError(f"parameter 'label_gain' item {i} is {g!r}; gains must be >= 0 "
                                 "and finite")
    return out


def label_key(label: float) -> str:
    """How class_weight's mapping writes a label (the model file's metadata has string keys)."""
    return format(float(label), ".17g")


def _alpha(value: Any) -> float | list[float]:
    """One quantile level in (0, 1), or a list of strictly increasing levels (multi-quantile;
    a list of one level is that level)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        levels = [_number(f"alpha[{i}]", v) for i, v in enumerate(np.asarray(value).tolist()
                                                                 if isinstance(value, np.ndarray)
                                                                 else value)]
        if not levels:
            raise ParameterError("parameter 'alpha' must hold at least one quantile level")
        for i, a in enumerate(levels):
            if not 0 < a < 1:
                raise ParameterError(f"parameter 'alpha' item {i} is {a!r}; quantile levels must "
                                     "be in (0, 1)")
            if i and not a > levels[i - 1]:
                raise ParameterError(f"parameter 'alpha' must be strictly increasing; item {i} "
                                     f"({a!r}) is not above item {i - 1} ({levels[i - 1]!r})")
        return levels if len(levels) > 1 else levels[0]
    a = _number("alpha", value)
    if not 0 < a < 1:
        raise ParameterError(f"parameter 'alpha' must be in (0, 1), got {value!r}")
    return a


def _class_weight(value: Any, objective: str) -> str | dict[str, float] | None:
    """None, "balanced", or a mapping label -> weight with its labels written as numbers
    (``"0"``, ``"1"``, ``"2.5"``: the model file's metadata has string keys)."""
    if value is None:
        return None
    if objective not in ("binary", "multiclass"):
        raise ParameterError(f"parameter 'class_weight' applies to the binary and multiclass "
                             f"objectives, not {objective!r}")
    if value == "balanced":
        return "balanced"
    if not isinstance(value, Mapping):
        raise ParameterError(f"parameter 'class_weight' must be 'balanced' or a mapping "
                             f"label -> weight, got {value!r}")
    out: dict[str, float] = {}
    for k, v in value.items():
        try:
            label = float(k)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter 'class_weight' has label {k!r}, which is not a "
                                 "number (train() takes encoded labels: 0, 1, ...)") from None
        w = _number(f"class_weight[{k!r}]", v)
        if not 0 <= w < float("inf"):
            raise ParameterError(f"parameter 'class_weight' gives label {k!r} the weight {v!r}; "
                                 "weights must be >= 0 and finite")
        out[label_key(label)] = w
    return out


_MONOTONE_METHODS = {"basic": 0, "intermediate": 1}
_MONOTONE_MISSING = {"low": -1, "free": 0, "high": 1}


def core_params(p: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of resolved params the C++ trainer reads."""
    keys = ("num_leaves", "max_depth", "min_child_samples", "min_child_weight", "min_split_gain",
            "reg_lambda", "reg_alpha", "learning_rate", "objective", "num_class", "subsample",
            "colsample_bytree", "random_state", "n_jobs", "max_cat_to_onehot", "max_cat_threshold",
            "cat_smooth", "cat_l2", "min_data_per_group", "tweedie_variance_power",
            "poisson_max_delta_step", "huber_delta", "alpha", "lambdarank_truncation_level",
            "lambdarank_norm", "label_gain", "monotone_constraints", "interaction_constraints",
            "use_quantized_grad", "num_grad_quant_bins", "quant_train_renew_leaf",
            "grow_policy", "random_strength", "bagging_temperature", "score_function",
            "boosting_type")
    out = {k: p[k] for k in keys}
    if isinstance(out["monotone_constraints"], dict):
        del out["monotone_constraints"]  # not resolved against the features yet
    ic = out["interaction_constraints"]
    if ic is not None and any(not isinstance(f, (int, np.integer)) for g in ic for f in g):
        del out["interaction_constraints"]  # names: not resolved against the features yet
    for k in ("alpha", "label_gain", "monotone_constraints", "interaction_constraints"):
        if out[k] is None:
            del out[k]
    out["monotone_method"] = _MONOTONE_METHODS[p["monotone_constraints_method"]]
    out["monotone_missing"] = _MONOTONE_MISSING[p["monotone_missing"]]
    return out
