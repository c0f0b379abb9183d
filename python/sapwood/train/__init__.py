"""Training: the boosting loop, callbacks, cross-validation, tuning, scikit-learn estimators
and the TOML training config.

May import `dataset`, `frame`, `model`, `objectives`, `metrics`, `monitoring.profile`; never
`scoring`, `validation` or `cli`.
"""
