"""onnxruntime sessions with the thread counts from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort

from gate.face.errors import InferenceError


def make_session(model: Path | bytes, threads: int, *, name: str = "model") -> Any:
    """A CPU session with ``threads`` intra-op threads, no busy-waiting, quiet logging.

    Spinning is off: the lane shares its cores with camera capture and the daemon, and
    spinning worker threads made inference two times slower on a loaded 2-core machine.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            model if isinstance(model, bytes) else str(model),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise InferenceError(
            f"onnxruntime cannot load {name}: {exc}; verify it with `egate models verify`"
        ) from None
