"""asv benchmarks: column profiles and drift comparison on fixed-seed data."""

from __future__ import annotations

import numpy as np
import sapwood
from sapwood.monitoring import compare

N_ROWS = 200_000
N_COLS = 20


def _frame(seed: int, shift: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_ROWS, N_COLS))
    if shift:
        X[:, :4] += 0.5
    return np.asfortranarray(X)  # column-major, as DataFrame / Arrow columns are


class Profile:
    def setup(self) -> None:
        self.X = _frame(0)
        self.ref = sapwood.Profile.from_data(self.X)

    def time_profile_fit(self) -> None:
        sapwood.Profile.from_data(self.X, n_jobs=2)

    def time_profile_on_reference_bins(self) -> None:
        sapwood.Profile.from_data(self.X, edges_from=self.ref, n_jobs=2)

    def peakmem_profile_on_reference_bins(self) -> None:
        sapwood.Profile.from_data(self.X, edges_from=self.ref, n_jobs=2)


class Compare:
    def setup(self) -> None:
        self.ref = sapwood.Profile.from_data(_frame(0))
        self.X = _frame(1, shift=True)
        self.cur = sapwood.Profile.from_data(self.X, edges_from=self.ref)

    def time_compare_profiles(self) -> None:
        compare(self.ref, self.cur)

    def time_profile_and_compare(self) -> None:
        compare(self.ref, self.X, n_jobs=2)

    def track_flagged(self) -> int:
        return len(compare(self.ref, self.cur).flagged())

    track_flagged.unit = "features"  # type: ignore[attr-defined]
