"""The model: Booster, its file container, the public builder, importers and exporters.

Owns everything about a Booster's internals; the rest of sapwood uses only its public API.
May import `frame`, `errors`, `objectives`, `_core`, and `monitoring.profile` (the reference
profile a model file carries); never `train`, `scoring`, `validation`, `cli`.
"""
