"""What both exporters read: the trees a Booster's default ``predict`` scores, and checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import objectives as _objectives
from ...errors import ModelFormatError, NotFittedError, ParameterError
from ..tree import Tree

if TYPE_CHECKING:
    from ..booster import Booster

# Split types (sapwood.model.tree): numeric, numeric with zero-as-missing, categorical.
NUMERIC, ZERO_AS_MISSING, CATEGORICAL = 0, 1, 2
# LightGBM's kZeroThreshold (cpp/src/predict/decision.hpp): |x| <= this is missing in a
# zero-as-missing split.
ZERO_THRESHOLD = 1e-35


def scored_trees(booster: Booster,
                 iteration_range: tuple[int, int] | None) -> list[Tree]:
    """The trees ``booster.predict(X, iteration_range=...)`` adds up, in order."""
    if not booster.feature_names:
        raise NotFittedError("this Booster has no trees; train it first")
    begin, end = booster.tree_range(iteration_range)
    return booster.trees()[begin:end]


def objective(booster: Booster) -> _objectives.ObjectiveInfo:
    try:
        return _objectives.get(booster.objective)
    except Exception:
        raise ModelFormatError(f"objective {booster.objective!r} cannot be exported") from None


def feature_name(booster: Booster, f: int) -> str:
    names = booster.feature_names
    return repr(names[f]) if 0 <= f < len(names) else f"#{f}"


def refuse_sorted_outputs(booster: Booster, target: str, *, raw_ok: bool = False) -> None:
    """A multi-quantile model's predictions are its outputs sorted per row (so they never
    cross); an export that cannot sort is refused rather than let its quantiles cross."""
    if _objectives.get(booster.objective).link_for(booster.num_class) == "sort":
        raise ParameterError(
            f"{target} cannot reproduce a multi-quantile model's predictions (each row's "
            f"{booster.num_class} quantiles sorted, so that they never cross)"
            + (": export output='raw' and sort each row's outputs yourself" if raw_ok else "")
            + "; score it with sapwood (predict, score, serve)")
