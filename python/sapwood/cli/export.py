"""``sapwood export MODEL --format onnx|xgboost-json -o OUT``: a model for other runtimes."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    from ._common import MODEL_HELP

    ex = sub.add_parser(
        "export", help="write a model as ONNX or XGBoost JSON (for ONNX Runtime, XGBoost, "
                       "Treelite, Triton FIL)",
        description="Read a model file (sapwood, LightGBM text or XGBoost JSON/UBJSON) and "
                    "write it as an ONNX tree-ensemble graph (ONNX Runtime) or an XGBoost JSON "
                    "model (XGBoost, Treelite, Triton's FIL backend) that scores as sapwood "
                    "does. Both read booster.feature_matrix(X): the features in the model's "
                    "order, categorical features as category codes. The output appears whole "
                    "or not at all. Exit 0: written; 2: the model cannot be read or exported.")
    ex.add_argument("model", help=MODEL_HELP)
    ex.add_argument("--format", required=True, choices=["onnx", "xgboost-json"],
                    help="what to write")
    ex.add_argument("-o", "--output", required=True, help="the file to write")
    ex.add_argument("--raw", action="store_true",
                    help="onnx: output margins (before the link) instead of predictions")
    ex.add_argument("--opset", type=int, choices=[3, 5],
                    help="onnx: ai.onnx.ml opset (default: 3, or 5 where categorical splits "
                         "need set membership)")


def run(args: Any) -> int:
    from .._fs import check_writable
    from ..model.export import export
    from ..model.io import load_any

    check_writable(args.output)
    booster = load_any(args.model)
    options: dict[str, Any] = {}
    if args.format == "onnx":
        options = {"output": "raw" if args.raw else "value", "opset": args.opset}
    elif args.raw or args.opset is not None:
        from ..errors import ParameterError

        raise ParameterError("--raw and --opset apply to --format onnx only")
    export(booster, args.format, args.output, **options)
    print(f"sapwood export: wrote {args.output} ({args.format}, {booster.num_trees} trees)",
          file=sys.stderr)
    return 0
