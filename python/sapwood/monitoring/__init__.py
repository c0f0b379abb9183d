"""Drift and data-quality monitoring against a reference profile.

``compare(reference, current)`` checks a batch (a Profile or any data input) against a reference
Profile (or a Booster carrying one) and returns a :class:`MonitorReport`. Monitoring reads
profiles and boosters only; the one exception is ``domain`` (multivariate drift by a domain
classifier), which trains sapwood models through the public ``sapwood.train`` API, imported
lazily (training never imports it). ``estimate`` estimates a binary classifier's performance
before labels arrive (CBPE); ``performance`` measures it once they do; ``history`` and
``store`` keep profiles over time.
"""

from __future__ import annotations

from .compare import MonitorReport, calibrate, compare, profile_for_booster
from .config import DEFAULT_LEVELS, FeatureConfig, Level, MonitorConfig

__all__ = [
    "compare",
    "MonitorReport",
    "MonitorConfig",
    "FeatureConfig",
    "Level",
    "DEFAULT_LEVELS",
    "calibrate",
    "profile_for_booster",
]
