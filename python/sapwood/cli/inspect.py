"""``sapwood inspect MODEL``: what a model file holds, without scoring anything."""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from typing import Any, TextIO

import numpy as np

from ..errors import SapwoodError
from ..model.booster import Booster
from ..model.format import MAGIC
from ..model.io import loads_any
from ..model.provenance import describe

__all__ = ["summarize", "run_inspect"]


def summarize(data: bytes, top: int = 20) -> dict[str, Any]:
    """A JSON-able summary of model-file bytes (loads and validates them first)."""
    b: Booster = loads_any(data)  # XGBoost / LightGBM files are summarised as imported
    version = struct.unpack_from("<I", data, 8)[0] if bytes(data[:8]) == MAGIC else None
    trees = b.trees()
    nodes = [t.num_nodes for t in trees]
    leaves = [t.num_leaves for t in trees]
    depths = [t.depth for t in trees]
    gain = b.feature_importance("gain", iteration_range=(0, b.num_rounds))
    split = b.feature_importance("split", iteration_range=(0, b.num_rounds))
    total_gain = float(gain.sum()) or 1.0
    order = sorted(range(b.num_features), key=lambda j: (-gain[j], -split[j], j))[:max(0, top)]
    return {
        "file": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                 "format": "sapwood" if version is not None
                 else str(b.provenance.get("imported_from")
                          or str(b.params.get("source", "imported")).split(":")[0]),
                 "format_version": version},
        "model": {"objective": b.objective, "num_class": b.num_class,
                  "num_features": b.num_features, "rounds": b.num_rounds,
                  "trees": b.num_trees, "best_iteration": b.best_iteration,
                  "init_score": [float(v) for v in b.init_score]},
        "trees": {"nodes": int(sum(nodes)), "leaves": int(sum(leaves)),
                  "leaves_per_tree": {"min": min(leaves, default=0),
                                      "mean": float(np.mean(leaves)) if leaves else 0.0,
                                      "max": max(leaves, default=0)},
                  "depth": {"min": min(depths, default=0), "max": max(depths, default=0)}},
        "features": b.feature_names,
        "importance": [{"feature": b.feature_names[j], "gain": float(gain[j]),
                        "gain_share": float(gain[j]) / total_gain, "splits": int(split[j])}
                       for j in order],
        "params": b.params,
        "metrics": {"best_score": b.best_score,
                    "final": {s: {m: v[-1] for m, v in ms.items() if v}
                              for s, ms in b.evals_result.items()}},
        "provenance": b.provenance,
        "tags": b.tags,
        "extra_sections": sorted(b.extra),
    }


def _print_text(s: dict[str, Any], out: TextIO) -> None:
    f, m, t = s["file"], s["model"], s["trees"]
    w = out.write
    kind = (f"format version {f['format_version']}" if f["format"] == "sapwood"
            else f"{f['format']} model, imported")
    w(f"file            {f['bytes']:,} bytes, {kind}, sha256 {f['sha256'][:16]}...\n")
    w(f"objective       {m['objective']}" + (f" ({m['num_class']} classes)"
                                             if m["num_class"] > 1 else "") + "\n")
    w(f"features        {m['num_features']}\n")
    w(f"rounds          {m['rounds']} ({m['trees']} trees), best iteration "
      f"{m['best_iteration'] if m['best_iteration'] is not None else '-'}\n")
    w(f"nodes           {t['nodes']:,} ({t['leaves']:,} leaves; per tree "
      f"{t['leaves_per_tree']['min']}-{t['leaves_per_tree']['max']}, "
      f"depth {t['depth']['min']}-{t['depth']['max']})\n")
    prov = s["provenance"]
    fp = prov.get("data_fingerprint") or {}
    w(f"created         {describe(prov)}\n")
    if fp:
        w(f"training data   {fp.get('rows')} rows x {fp.get('columns')} columns, "
          f"{fp.get('algorithm')} {str(fp.get('digest'))[:16]}...\n")
    for title, d in (("best score", s["metrics"]["best_score"]),
                     ("final metrics", s["metrics"]["final"])):
        for ds, ms in d.items():
            vals = ", ".join(f"{k}={v:.6g}" for k, v in ms.items())
            w(f"{title:<15} {ds}: {vals}\n")
    if s["tags"]:
        w(f"tags            {json.dumps(s['tags'], sort_keys=True)}\n")
    if s["extra_sections"]:
        w(f"extra sections  {', '.join(s['extra_sections'])}\n")
    params = ", ".join(f"{k}={v}" for k, v in sorted(s["params"].items()))
    w(f"params          {params}\n")
    if s["importance"]:
        w("\nfeature importance (gain share, splits):\n")
        width = max(len(r["feature"]) for r in s["importance"])
        for r in s["importance"]:
            bar = "#" * int(round(40 * r["gain_share"]))
            w(f"  {r['feature']:<{width}}  {100 * r['gain_share']:6.2f}%  "
              f"{r['splits']:>6}  {bar}\n")


def run_inspect(path: str, as_json: bool = False, top: int = 20,
                out: TextIO | None = None) -> int:
    """Print the summary; exit code 0, or 2 when the file cannot be read."""
    stream = out or sys.stdout
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        s = summarize(data, top=top)
    except (OSError, SapwoodError) as e:
        print(f"sapwood inspect: {path}: {e}", file=sys.stderr)
        return 2
    if as_json:
        stream.write(json.dumps(s, indent=2, sort_keys=True, default=str) + "\n")
    else:
        _print_text(s, stream)
    return 0


def add_parser(sub: Any) -> None:
    from ._common import MODEL_HELP, int_range

    insp = sub.add_parser(
        "inspect", help="print a model file's metadata, trees and importance (sapwood, "
                        "LightGBM or XGBoost)",
        description="Load a model file (sapwood, LightGBM text or XGBoost JSON/UBJSON; "
                    "checked as on load) and print its objective, size, trees, metrics, "
                    "provenance and feature importance without scoring anything. Exit 0: "
                    "done; 2: the file cannot be read.")
    insp.add_argument("model", help=MODEL_HELP)
    insp.add_argument("--json", action="store_true", help="print the summary as JSON")
    insp.add_argument("--top", type=int_range(0), default=20,
                      help="how many features to list by importance")


def run(args: Any) -> int:
    return run_inspect(args.model, as_json=args.json, top=args.top)
