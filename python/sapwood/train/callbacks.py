"""Training callbacks: hooks before training, after each iteration (may stop) and after."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import ParameterError
from ..metrics import HIGHER_IS_BETTER

if TYPE_CHECKING:
    from ..model.booster import Booster

__all__ = ["TrainingCallback", "CallbackEnv", "EarlyStopping", "EvaluationLog", "ProgressBar",
           "MLflowLogger"]


@dataclass
class CallbackEnv:
    """What a callback sees after each iteration."""

    booster: Booster
    iteration: int  # 0-based round just finished
    n_estimators: int
    # evaluation[set_name][metric_name] = value at this iteration
    evaluation: dict[str, dict[str, float]] = field(default_factory=dict)
    # history[set_name][metric_name] = values of every iteration so far
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # custom metric callables that are better when higher (their higher_is_better attribute)
    higher_is_better: frozenset[str] = frozenset()


class TrainingCallback:
    """Base class: override any hook. ``after_iteration`` returns True to stop training."""

    def before_training(self, booster: Booster) -> None:  # noqa: B027 - optional hook
        pass

    def after_iteration(self, env: CallbackEnv) -> bool:
        return False

    def after_training(self, booster: Booster) -> None:  # noqa: B027 - optional hook
        pass


class EarlyStopping(TrainingCallback):
    """Stop when the watched metric has not improved for ``rounds`` iterations.

    Watches ``metric`` (default: the first metric) on ``data_name`` (default: the last
    validation set). The booster keeps every tree, and ``best_iteration`` (1-based) marks the
    best round; prediction uses the trees up to it by default.
    """

    def __init__(self, rounds: int, metric: str | None = None, data_name: str | None = None,
                 min_delta: float = 0.0) -> None:
        if not isinstance(rounds, int) or rounds < 1:
            raise ParameterError(f"EarlyStopping rounds must be an integer >= 1, got {rounds!r}")
        if min_delta < 0:
            raise ParameterError(f"EarlyStopping min_delta must be >= 0, got {min_delta!r}")
        self.rounds = rounds
        self.metric = metric
        self.data_name = data_name
        self.min_delta = min_delta
        self.best_score: float | None = None
        self.best_iteration: int = 0

    def before_training(self, booster: Booster) -> None:
        self.best_score = None
        self.best_iteration = 0

    def after_iteration(self, env: CallbackEnv) -> bool:
        if not env.evaluation:
            raise ParameterError("EarlyStopping needs at least one validation set (valid_sets)")
        name = self.data_name or list(env.evaluation)[-1]
        if name not in env.evaluation:
            raise ParameterError(f"EarlyStopping: no validation set named {name!r}")
        metrics = env.evaluation[name]
        metric = self.metric or next(iter(metrics))
        if metric not in metrics:
            raise ParameterError(f"EarlyStopping: metric {metric!r} is not evaluated")
        score = metrics[metric]
        higher = metric in HIGHER_IS_BETTER or metric in env.higher_is_better
        if self.best_score is None or (
            score > self.best_score + self.min_delta if higher
            else score < self.best_score - self.min_delta
        ):
            self.best_score = score
            self.best_iteration = env.iteration + 1
        env.booster.best_iteration = self.best_iteration
        env.booster.best_score = {name: {metric: float(self.best_score)}}
        return env.iteration + 1 - self.best_iteration >= self.rounds


class EvaluationLog(TrainingCallback):
    """Print the evaluation results every ``period`` iterations."""

    def __init__(self, period: int = 1, stream: TextIO | None = None) -> None:
        if period < 1:
            raise ParameterError(f"EvaluationLog period must be >= 1, got {period!r}")
        self.period = period
        self.stream = stream

    def after_iteration(self, env: CallbackEnv) -> bool:
        i = env.iteration + 1
        if i % self.period == 0 or i == env.n_estimators:
            parts = [f"{s}'s {m}: {v:.6g}" for s, ms in env.evaluation.items() for m, v in ms.items()]
            print(f"[{i}]\t" + "\t".join(parts), file=self.stream or sys.stdout)
        return False


class ProgressBar(TrainingCallback):
    """A tqdm progress bar: iteration, ETA and the latest metrics (off unless you pass it;
    the ``sapwood`` command turns it on). Without tqdm installed it prints a line every
    ``fallback_period`` iterations instead."""

    def __init__(self, desc: str = "training", leave: bool = True, stream: TextIO | None = None,
                 fallback_period: int = 50) -> None:
        self.desc = desc
        self.leave = leave
        self.stream = stream
        self.fallback_period = fallback_period
        self._bar: Any = None

    def before_training(self, booster: Booster) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is in the test and demo extras
            self._bar = None
            return
        total = booster.params.get("n_estimators")
        self._bar = tqdm(total=total, desc=self.desc, leave=self.leave,
                         file=self.stream or sys.stderr, unit="it")

    def after_iteration(self, env: CallbackEnv) -> bool:
        post = {f"{s}:{m}": f"{v:.5g}" for s, ms in env.evaluation.items() for m, v in ms.items()}
        if self._bar is not None:
            self._bar.update(1)
            if post:
                self._bar.set_postfix(post, refresh=False)
        elif (env.iteration + 1) % self.fallback_period == 0 or \
                env.iteration + 1 == env.n_estimators:
            print(f"[{env.iteration + 1}/{env.n_estimators}] {post}",
                  file=self.stream or sys.stderr)
        return False

    def after_training(self, booster: Booster) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class MLflowLogger(TrainingCallback):
    """Log params, every iteration's metrics and the model file to MLflow.

    Uses the active run, or starts one (ended after training) under ``run_name``.
    Metric names are ``<set>-<metric>`` (e.g. ``valid-auc``), logged with step = iteration.
    """

    def __init__(self, run_name: str | None = None, artifact_name: str = "model.sapwood",
                 log_every: int = 1) -> None:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            msg = "MLflowLogger needs the mlflow package (pip install mlflow)"
            raise ParameterError(msg) from None
        if log_every < 1:
            raise ParameterError(f"MLflowLogger log_every must be >= 1, got {log_every!r}")
        self.run_name = run_name
        self.artifact_name = artifact_name
        self.log_every = log_every
        self._owns_run = False

    def before_training(self, booster: Booster) -> None:
        import mlflow

        self._owns_run = mlflow.active_run() is None
        if self._owns_run:
            mlflow.start_run(run_name=self.run_name)
        mlflow.log_params({k: ("None" if v is None else v) for k, v in booster.params.items()
                           if k != "n_jobs"})

    def after_iteration(self, env: CallbackEnv) -> bool:
        import mlflow

        if env.evaluation and (env.iteration + 1) % self.log_every == 0:
            mlflow.log_metrics({f"{s}-{m}": float(v) for s, ms in env.evaluation.items()
                                for m, v in ms.items()}, step=env.iteration)
        return False

    def after_training(self, booster: Booster) -> None:
        import os
        import tempfile

        import mlflow

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, self.artifact_name)
            booster.save(path)
            mlflow.log_artifact(path)
        if booster.best_iteration is not None:
            mlflow.log_metric("best_iteration", booster.best_iteration)
        if self._owns_run:
            mlflow.end_run()
            self._owns_run = False
