"""Small ONNX protobuf rewrites, done in memory on the verified model bytes, for speed.
They change no weight and compute the same function (tests compare the outputs).

1. Drop graph inputs that are initializers (SFace).

SFace 2021dec was exported with every weight also listed as a graph *input* (older exporters
did this). onnxruntime then treats the weights as overridable, so it cannot fold batch
normalisation into the convolutions or pre-pack weights ("Initializer ... appears in graph
inputs" warnings), and the model runs several times slower. Removing those names from
``graph.input`` changes nothing in the computation (the initializers keep their values); it is
what onnxruntime's own tools/python/remove_initializer_from_input.py does with the onnx package.
This module does it on the protobuf wire format directly, so no extra dependency is needed.
The verified file on disk is never modified; the rewrite happens in memory at load time.

2. Replace PRelu by Relu/Sub/Mul/Add (SFace), see :func:`decompose_prelu`.

3. Free the fixed 640x640 input shape (YuNet). The 2023mar graph itself works at any input
whose sides are multiples of 32 (its feature pyramid adds the upsampled coarser level to the
finer one), but the file declares 1x3x640x640 and matching output sizes, which onnxruntime
enforces. Removing the declared shapes of inputs, outputs and intermediate value infos lets a
640x480 camera frame run at 640x480 instead of being padded to a square (a quarter less work).

Field numbers (onnx/onnx.proto): ModelProto.graph = 7; GraphProto.initializer = 5,
GraphProto.input = 11, .output = 12, .value_info = 13; TensorProto.name = 8;
ValueInfoProto.name = 1, .type = 2; TypeProto.tensor_type = 1; TypeProto.Tensor.shape = 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gate.face.errors import ModelCorruptError

_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_GRAPH_INPUT = 11
_GRAPH_OUTPUT = 12
_GRAPH_VALUE_INFO = 13
_VALUE_INFO_TYPE = 2
_TYPE_TENSOR = 1
_TENSOR_TYPE_SHAPE = 2
_TENSOR_NAME = 8
_VALUE_INFO_NAME = 1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ModelCorruptError("ONNX model: truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelCorruptError("ONNX model: varint too long")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fields(data: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, start of the whole field, start of value, end) per field."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, end = _varint(data, pos)
            yield number, wire, start, pos, end
        elif wire == 1:
            yield number, wire, start, pos, pos + 8
            end = pos + 8
        elif wire == 2:
            length, value = _varint(data, pos)
            end = value + length
            yield number, wire, start, value, end
        elif wire == 5:
            end = pos + 4
            yield number, wire, start, pos, end
        else:
            raise ModelCorruptError(f"ONNX model: unsupported protobuf wire type {wire}")
        if end > len(data):
            raise ModelCorruptError("ONNX model: field runs past the end of the data")
        pos = end


def _name(message: bytes, number: int) -> str | None:
    for num, wire, _, value, end in fields(message):
        if num == number and wire == 2:
            return message[value:end].decode("utf-8", "replace")
    return None


def strip_initializer_inputs(model: bytes) -> tuple[bytes, int]:
    """The model with initializer names removed from ``graph.input``; and how many were."""
    out = bytearray()
    removed = 0
    for number, wire, start, value, end in fields(model):
        if number != _MODEL_GRAPH or wire != 2:
            out += model[start:end]
            continue
        graph = model[value:end]
        names = {
            _name(graph[v:e], _TENSOR_NAME)
            for n, w, _, v, e in fields(graph)
            if n == _GRAPH_INITIALIZER and w == 2
        }
        kept = bytearray()
        for n, w, s, v, e in fields(graph):
            if n == _GRAPH_INPUT and w == 2 and _name(graph[v:e], _VALUE_INFO_NAME) in names:
                removed += 1
                continue
            kept += graph[s:e]
        out += _encode_varint((_MODEL_GRAPH << 3) | 2) + _encode_varint(len(kept)) + kept
    return bytes(out), removed


Edit = Callable[[int, int, bytes], "bytes | bool | None"]


def rebuild(message: bytes, edit: Edit) -> bytes:
    """Re-serialise ``message`` field by field; ``edit(number, wire, value)`` returns new
    length-delimited content, False to drop the field, or None to keep it unchanged."""
    out = bytearray()
    for number, wire, start, value, end in fields(message):
        result = edit(number, wire, message[value:end]) if wire == 2 else None
        if result is None or result is True:
            out += message[start:end]
        elif result is not False:
            out += _encode_varint((number << 3) | 2) + _encode_varint(len(result)) + result
    return bytes(out)


def _without_shape(value_info: bytes) -> bytes:
    def tensor(n: int, w: int, b: bytes) -> bool | None:
        return False if n == _TENSOR_TYPE_SHAPE else None

    def type_proto(n: int, w: int, b: bytes) -> bytes | None:
        return rebuild(b, tensor) if n == _TYPE_TENSOR else None

    def info(n: int, w: int, b: bytes) -> bytes | None:
        return rebuild(b, type_proto) if n == _VALUE_INFO_TYPE else None

    return rebuild(value_info, info)


def free_shapes(model: bytes) -> bytes:
    """The model without declared input/output shapes and without intermediate value infos."""

    def graph(n: int, w: int, b: bytes) -> bytes | bool | None:
        if n in (_GRAPH_INPUT, _GRAPH_OUTPUT):
            return _without_shape(b)
        return False if n == _GRAPH_VALUE_INFO else None

    return rebuild(model, lambda n, w, b: rebuild(b, graph) if n == _MODEL_GRAPH else None)


_GRAPH_NODE = 1
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP = 1, 2, 3, 4


def _node(op: str, inputs: list[str], outputs: list[str], name: str) -> bytes:
    body = b"".join(_string(_NODE_INPUT, i) for i in inputs)
    body += b"".join(_string(_NODE_OUTPUT, o) for o in outputs)
    body += _string(_NODE_NAME, name) + _string(_NODE_OP, op)
    return _string(_GRAPH_NODE, body)


def _string(number: int, value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return _encode_varint((number << 3) | 2) + _encode_varint(len(raw)) + raw


def _strings(message: bytes, number: int) -> list[str]:
    return [
        message[v:e].decode("utf-8", "replace")
        for n, w, _, v, e in fields(message)
        if n == number and w == 2
    ]


def decompose_prelu(model: bytes) -> tuple[bytes, int]:
    """Replace every ``PRelu(x, slope)`` node by ``Relu(x) + slope * (x - Relu(x))``.

    Same function (for x >= 0: x; for x < 0: slope * x). onnxruntime's CPU PRelu with a
    per-channel slope of shape (C, 1, 1) takes a slow element-wise broadcasting path (SFace:
    27 PRelu nodes took more time than its 27 convolutions); Relu, Sub, Mul and Add have
    vectorised kernels. Returns the model and the number of nodes replaced.
    """
    replaced = 0

    def graph(message: bytes) -> bytes:
        nonlocal replaced
        out = bytearray()
        for number, wire, start, value, end in fields(message):
            node = message[value:end]
            if number != _GRAPH_NODE or wire != 2 or _strings(node, _NODE_OP) != ["PRelu"]:
                out += message[start:end]
                continue
            (x, slope), (y,) = _strings(node, _NODE_INPUT), _strings(node, _NODE_OUTPUT)
            base = f"{y}__prelu{replaced}"
            out += _node("Relu", [x], [f"{base}_pos"], f"{base}_relu")
            out += _node("Sub", [x, f"{base}_pos"], [f"{base}_neg"], f"{base}_sub")
            out += _node("Mul", [f"{base}_neg", slope], [f"{base}_scaled"], f"{base}_mul")
            out += _node("Add", [f"{base}_pos", f"{base}_scaled"], [y], f"{base}_add")
            replaced += 1
        return bytes(out)

    rewritten = rebuild(model, lambda n, w, b: graph(b) if n == _MODEL_GRAPH else None)
    return rewritten, replaced


def fast_sface(model: bytes) -> bytes:
    """SFace as we run it: initializer inputs dropped, PRelu decomposed."""
    stripped, _ = strip_initializer_inputs(model)
    return decompose_prelu(stripped)[0]


# --------------------------------------------------------------------------- writing graphs
# ModelProto: ir_version = 1, opset_import = 8, producer_name = 2, graph = 7.
# GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
# NodeProto: attribute = 5. AttributeProto: name = 1, i = 3, ints = 8, type = 20 (INT 2, INTS 7).
# TensorProto: dims = 1, data_type = 2 (FLOAT 1, INT64 7), name = 8, raw_data = 9.
# OperatorSetIdProto: domain = 1, version = 2. TypeProto.Tensor: elem_type = 1, shape = 2;
# TensorShapeProto: dim = 1; Dimension: dim_value = 1.

_ONNX_FLOAT, _ONNX_INT64 = 1, 7


def _int_field(number: int, value: int) -> bytes:
    return _encode_varint(number << 3) + _encode_varint(value & ((1 << 64) - 1))


def _attribute(name: str, value: int | list[int]) -> bytes:
    body = _string(1, name)
    if isinstance(value, list):
        body += b"".join(_int_field(8, v) for v in value) + _int_field(20, 7)
    else:
        body += _int_field(3, value) + _int_field(20, 2)
    return _string(5, body)


def _value_info(name: str, shape: list[int]) -> bytes:
    dims = b"".join(_string(1, _int_field(1, d)) for d in shape)
    tensor_type = _int_field(1, _ONNX_FLOAT) + _string(2, dims)
    return _string(1, name) + _string(2, _string(1, tensor_type))


class GraphBuilder:
    """A minimal ONNX (opset 13) graph writer: nodes with integer attributes, initializers,
    one float input and output; enough to express converted convolutional networks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: list[bytes] = []
        self._initializers: list[bytes] = []
        self._inputs: list[bytes] = []
        self._outputs: list[bytes] = []
        self._count = 0

    def input(self, name: str, shape: list[int]) -> None:
        self._inputs.append(_string(_GRAPH_INPUT, _value_info(name, shape)))

    def output(self, source: str, name: str, shape: list[int]) -> None:
        self.node("Identity", [source], output=name)
        self._outputs.append(_string(_GRAPH_OUTPUT, _value_info(name, shape)))

    def initializer(self, name: str, array: Any) -> str:
        import numpy as np  # local: the protobuf helpers above need no numpy

        data = np.ascontiguousarray(array)
        kind = _ONNX_INT64 if data.dtype == np.int64 else _ONNX_FLOAT
        raw = data.astype("<i8" if kind == _ONNX_INT64 else "<f4").tobytes()
        body = b"".join(_int_field(1, int(d)) for d in data.shape)
        body += _int_field(2, kind) + _string(8, name) + _string(9, raw)
        self._initializers.append(_string(_GRAPH_INITIALIZER, body))
        return name

    def node(
        self, op: str, inputs: list[str], *, output: str | None = None, **attrs: int | list[int]
    ) -> str:
        self._count += 1
        out = output or f"{op.lower()}_{self._count}"
        body = b"".join(_string(_NODE_INPUT, i) for i in inputs)
        body += _string(_NODE_OUTPUT, out) + _string(_NODE_NAME, f"n{self._count}")
        body += _string(_NODE_OP, op)
        body += b"".join(_attribute(k, v) for k, v in attrs.items())
        self._nodes.append(_string(_GRAPH_NODE, body))
        return out

    def model(self) -> bytes:
        graph = b"".join(self._nodes) + _string(2, self.name)
        graph += b"".join(self._initializers) + b"".join(self._inputs) + b"".join(self._outputs)
        opset = _string(1, "") + _int_field(2, 13)
        header = _int_field(1, 8) + _string(2, "egate") + _string(8, opset)
        return header + _string(_MODEL_GRAPH, graph)
