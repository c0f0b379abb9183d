"""Batch scoring jobs: plan the inputs and outputs, stream record batches through the
predictor (reader, scorers and writer overlap), write outputs atomically, profile what was
scored.

May import `frame`, `model` (public API only), `monitoring.profile`; never `train`,
`validation` or `cli`.
"""
