"""onnxruntime sessions with the thread counts from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort

from gate.face.errors import InferenceError


def make_session(path: Path, threads: int) -> Any:
    """A CPU session with ``threads`` intra-op threads and quiet logging."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # SFace's exporter warnings are harmless noise
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise InferenceError(
            f"onnxruntime cannot load {path}: {exc}; verify it with `egate models verify`"
        ) from None
