"""The model: Booster, its file container, the public builder, importers and exporters.

Owns everything about a Booster's internals; the rest of sapwood uses only its public API
(``Booster`` and its ``trees()`` / ``tree(i)`` views, :class:`ModelBuilder`, ``io``).

Modules, lowest first: ``tree`` (node arrays: checks and the read-only view), ``builder``
(the one way a Booster is built), ``provenance``, ``format`` (the file container),
``serialize`` (a Booster as a file document and back), ``booster``, ``sniff`` (which kind of
model a file holds), ``importers/`` (one module per foreign format), ``io`` (load / save /
load_any), ``gpu`` (the CUDA predictor).

May import `frame`, `dataset`, `errors`, `objectives`, `_core`, `_fs`, `_params`, and
`monitoring.profile` (the reference profile a model file carries); never `train`, `scoring`,
`validation`, `cli`.
"""

from .booster import Booster
from .builder import ModelBuilder
from .tree import Tree

__all__ = ["Booster", "ModelBuilder", "Tree"]
