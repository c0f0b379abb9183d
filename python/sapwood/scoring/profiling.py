"""The monitoring profile of what a scoring job scored: per-batch profiles of the features and
predictions, counted on fixed bin edges and merged exactly."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["Profiler"]


def _is_profile(obj: Any) -> bool:
    return type(obj).__name__ == "Profile"


class Profiler:
    """Merges per-batch profiles of the features and predictions (on fixed bin edges).

    reference: a Profile, its JSON path or its dict, whose bin edges the profile counts on;
    default: the model's ``reference_profile`` if it carries one, else the first batch's."""

    def __init__(self, booster: Any, n_jobs: int | None, reference: Any = None) -> None:
        self.booster = booster
        self.n_jobs = n_jobs
        ref = reference if reference is not None else getattr(booster, "reference_profile",
                                                              None)
        if isinstance(ref, (str, os.PathLike)):
            from ..monitoring.profile import Profile

            ref = Profile.load(os.fspath(ref))
        if ref is not None and not _is_profile(ref):
            from ..monitoring.profile import Profile

            ref = Profile.from_dict(ref)
        self.edges: Any = ref
        self.profile: Any = None

    def add(self, X: Any, pred: np.ndarray) -> None:
        from ..monitoring.profile import Profile

        table = hasattr(X, "column_names")  # an Arrow table (models with categorical features)
        p = Profile.from_data(X if table else np.asarray(X), edges_from=self.edges or self.booster,
                              names=None if table else list(self.booster.feature_names),
                              categorical=getattr(self.booster, "categorical_features", None),
                              predictions=pred, n_jobs=self.n_jobs)
        if self.profile is None:
            self.profile = p
            # Later batches count on the first batch's edges (the reference's where it has the
            # column; fitted on the first batch for the others, e.g. the predictions).
            self.edges = {name: c.edges for name, c in p.columns.items() if hasattr(c, "edges")}
        else:
            self.profile = self.profile.merge(p)

    def to_bytes(self) -> bytes | None:
        """The merged profile as JSON, or None when nothing was scored."""
        if self.profile is None:
            return None
        data: bytes = self.profile.to_json().encode("utf-8")
        return data
