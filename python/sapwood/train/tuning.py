"""tune(): seeded hyper-parameter search scored by cross-validation.

Random search is built in; when ``optuna`` is installed (and ``use_optuna`` is not False) its
TPE sampler proposes the trials and its median pruner stops a trial after a weak first fold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dataset import Dataset
from ..errors import ParameterError
from ..metrics import HIGHER_IS_BETTER
from .crossval import CVResult, cv

__all__ = ["tune", "TuneResult", "Trial"]


@dataclass
class Trial:
    number: int
    params: dict[str, Any]
    score: float  # the cv mean of the metric at its best iteration (NaN when pruned)
    best_iteration: int
    pruned: bool = False


@dataclass
class TuneResult:
    best_params: dict[str, Any]
    best_score: float
    best_iteration: int
    metric: str
    trials: list[Trial] = field(default_factory=list)
    sampler: str = "random"


def _spec(name: str, spec: Any) -> tuple[str, Any]:
    """Normalise one search-space entry to (kind, args)."""
    if isinstance(spec, list):
        if not spec:
            raise ParameterError(f"search space for '{name}' is an empty list")
        return "choice", list(spec)
    if isinstance(spec, tuple) and len(spec) == 2:
        lo, hi = spec
        spec = {"low": lo, "high": hi}
    if isinstance(spec, Mapping) and "low" in spec and "high" in spec:
        lo, hi, log = spec["low"], spec["high"], bool(spec.get("log", False))
        is_int = bool(spec.get("int", isinstance(lo, int) and isinstance(hi, int)))
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float))) or lo > hi:
            raise ParameterError(f"search space for '{name}' needs numbers low <= high, got "
                                 f"{lo!r}, {hi!r}")
        if log and lo <= 0:
            raise ParameterError(f"search space for '{name}': log scale needs low > 0")
        return ("int" if is_int else "float"), (lo, hi, log)
    if isinstance(spec, (int, float, str, bool)) or spec is None:
        return "fixed", spec
    raise ParameterError(
        f"search space for '{name}' must be a list (choices), a (low, high) pair, "
        f"a {{'low', 'high', 'log', 'int'}} dict or a fixed value; got {spec!r}"
    )


def _draw(kind: str, args: Any, rng: np.random.Generator) -> Any:
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    if kind == "fixed":
        return args
    lo, hi, log = args
    if log:
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        v = rng.uniform(lo, hi)
    if kind == "int":
        return int(min(hi, max(lo, round(v))))
    return float(v)


def tune(
    params_space: Mapping[str, Any],
    dataset: Dataset,
    n_trials: int = 20,
    *,
    cv_folds: int = 3,
    early_stopping_rounds: int | None = 20,
    seed: int = 0,
    use_optuna: bool | None = None,
    **cv_kwargs: Any,
) -> TuneResult:
    """Search ``params_space`` for the params with the best cross-validated metric.

    params_space maps a parameter name to a list of choices, a (low, high) range (ints when both
    ends are ints), a dict {"low", "high", "log": bool, "int": bool}, or a fixed value. The
    first metric of the params (or the objective's default) decides. Seeded: the same seed,
    space and data give the same trials. Other keyword arguments go to :func:`sapwood.cv`.
    """
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ParameterError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    space = {name: _spec(name, s) for name, s in params_space.items()}
    base = {"random_state": seed}

    def run(params: dict[str, Any]) -> CVResult:
        return cv({**base, **params}, dataset, cv_folds,
                  early_stopping_rounds=early_stopping_rounds, **cv_kwargs)

    optuna: Any = None
    if use_optuna is not False:
        try:
            import optuna as _optuna

            optuna = _optuna
        except ImportError:
            if use_optuna:
                raise ParameterError("use_optuna=True but optuna is not installed") from None
            optuna = None
    trials: list[Trial] = []
    metric = ""
    if optuna is None:
        rng = np.random.default_rng(seed)
        for i in range(n_trials):
            params = {name: _draw(kind, args, rng) for name, (kind, args) in space.items()}
            res = run(params)
            metric = res.metric
            trials.append(Trial(i, params, res.best_score[metric], res.best_iteration))
        sampler = "random"
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        probe = run({name: _draw(kind, args, np.random.default_rng(seed))
                     for name, (kind, args) in space.items()})
        metric = probe.metric
        higher = metric in HIGHER_IS_BETTER
        study = optuna.create_study(direction="maximize" if higher else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed),
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=3))

        def objective(trial: Any) -> float:
            params: dict[str, Any] = {}
            for name, (kind, args) in space.items():
                if kind == "choice":
                    params[name] = trial.suggest_categorical(name, args)
                elif kind == "fixed":
                    params[name] = args
                elif kind == "int":
                    params[name] = trial.suggest_int(name, int(args[0]), int(args[1]),
                                                     log=args[2])
                else:
                    params[name] = trial.suggest_float(name, args[0], args[1], log=args[2])
            res = run(params)
            trial.set_user_attr("best_iteration", res.best_iteration)
            score = float(res.best_score[metric])
            trial.report(score, step=res.best_iteration)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return score

        study.optimize(objective, n_trials=n_trials)
        for t in study.trials:
            pruned = t.state != optuna.trial.TrialState.COMPLETE
            trials.append(Trial(t.number, dict(t.params), float("nan") if pruned else
                                float(t.value), int(t.user_attrs.get("best_iteration", 0)),
                                pruned))
        sampler = "optuna-tpe"
    higher = metric in HIGHER_IS_BETTER
    done = [t for t in trials if not t.pruned and not math.isnan(t.score)]
    if not done:
        raise ParameterError("every trial failed to produce a score")
    best = max(done, key=lambda t: t.score) if higher else min(done, key=lambda t: t.score)
    fixed = {name: args for name, (kind, args) in space.items() if kind == "fixed"}
    return TuneResult(best_params={**base, **fixed, **best.params}, best_score=best.score,
                      best_iteration=best.best_iteration, metric=metric, trials=trials,
                      sampler=sampler)
