"""Batch scoring jobs: plan the inputs and outputs, stream record batches through the
predictor (reader, scorers and writer overlap), write outputs atomically, profile what was
scored.

- ``api``: ``score()`` and ``ScoreSummary``, the job from start to end.
- ``plan``: input files, output parts and formats, the outputs-vs-inputs check, resume.
- ``inputs``: one input file's schema, checks and record batches (the reader side).
- ``pipeline``: the reader, scorer and writer threads of one part.
- ``outputs``: prediction columns, Arrow conversion, one writer per format, temporaries.
- ``profiling``: the monitoring profile of the scored rows.

May import `frame`, `model` (public API only), `monitoring.profile`, `_fs`, `_compat`; never
`train`, `validation` or `cli`.
"""
