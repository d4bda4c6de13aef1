"""dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``, CC0) as ONNX.

The file is dlib's own serialisation of a trained ``anet_type`` (dlib's
dnn_face_recognition_ex.cpp): a 29-convolution ResNet on a 150x150 RGB chip that gives 128
numbers. This module reads that format and writes an equivalent ONNX graph, in memory, so that
onnxruntime runs it like SFace; no dlib is needed. Only what the file holds is used; nothing is
retrained or approximated: affine layers (batch normalisation frozen at training's end) are
folded into the preceding convolutions and the input normalisation into the first one, which
changes results only by float rounding (``tests/face/test_face_dlibnet.py`` checks the graph
against a plain numpy forward pass of the parsed layers).

The serialisation (dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h, loss.h):

- integers: one byte whose low 4 bits give the byte count and whose bit 7 is the sign, then
  that many bytes little-endian; floats: two such integers, mantissa and base-2 exponent;
  strings: length then bytes; booleans: the characters '0' / '1';
- tensors (version 2): n, k, nr, nc, then n*k*nr*nc little-endian float32;
- the network from the top: ``loss_metric_2`` (margin, distance threshold), the version
  number of every ``add_layer`` / tag / skip on the way down, the input layer
  (``input_rgb_image_sized``: mean red, green, blue; rows, columns), then each layer's details
  bottom-up, each followed by three booleans and three (empty) tensors.

The layer *order* is in the file; how the residual blocks connect (dlib's tag1/tag2/skip1
templates) is not, and is rebuilt from the published network definition: each block starts
after a ``relu`` that follows an ``add_prev`` (or after the stem's ``max_pool``), its shortcut
is the block input, average-pooled 2x2 when the block holds an ``avg_pool``; ``add_prev`` adds
two tensors of different shapes as if the smaller were zero-padded (dlib ``tt::add``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.face import onnxgraph
from gate.face.errors import ModelCorruptError

Array = npt.NDArray[np.float32]
CHIP_SIZE = 150
"""dlib's chip: 150x150 pixels, face with padding 0.25 (dlib get_face_chip_details)."""


@dataclass
class Layer:
    kind: str
    """'con', 'affine', 'relu', 'max_pool', 'avg_pool', 'add_prev', 'fc'."""
    weights: Array | None = None
    bias: Array | None = None
    config: tuple[int, ...] = ()
    """con: filters, rows, cols, stride y, stride x, pad y, pad x; pools: rows, cols, stride
    y, stride x, pad y, pad x (rows = cols = 0: over everything)."""


@dataclass
class DlibNet:
    mean_rgb: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[Layer] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _need(self, count: int) -> None:
        if self.pos + count > len(self.data):
            raise ModelCorruptError(
                f"dlib model: data ends at byte {len(self.data)} while {count} more bytes were "
                f"expected at {self.pos}; the file is truncated"
            )

    def integer(self) -> int:
        self._need(1)
        head = self.data[self.pos]
        size = head & 0x0F
        if size > 8:
            raise ModelCorruptError(f"dlib model: bad integer header {head:#x} at {self.pos}")
        self.pos += 1
        self._need(size)
        value = int.from_bytes(self.data[self.pos : self.pos + size], "little")
        self.pos += size
        return -value if head & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(mantissa * 2.0**exponent)

    def string(self, limit: int = 64) -> str:
        length = self.integer()
        if not 0 <= length <= limit:
            raise ModelCorruptError(f"dlib model: string of length {length} at {self.pos}")
        self._need(length)
        text = self.data[self.pos : self.pos + length].decode("ascii", "replace")
        self.pos += length
        return text

    def tensor(self) -> Array:
        version = self.integer()
        if version != 2:
            raise ModelCorruptError(f"dlib model: tensor version {version} at {self.pos}")
        shape = tuple(self.integer() for _ in range(4))
        if any(s < 0 for s in shape):
            raise ModelCorruptError(f"dlib model: negative tensor shape {shape}")
        count = int(np.prod(shape))
        self._need(4 * count)
        array = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return array.astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        version = self.integer()
        if version != 1:
            raise ModelCorruptError(f"dlib model: alias tensor version {version} at {self.pos}")
        return tuple(self.integer() for _ in range(4))

    def bools(self, count: int) -> None:
        self._need(count)
        if any(b not in b"01" for b in self.data[self.pos : self.pos + count]):
            raise ModelCorruptError(f"dlib model: expected booleans at {self.pos}")
        self.pos += count


def parse(data: bytes) -> DlibNet:
    """The layers of a serialised dlib ``loss_metric`` network, bottom-up."""
    r = _Reader(data)
    if r.integer() != 1 or r.string() != "loss_metric_2":
        raise ModelCorruptError("not a dlib loss_metric network (dlib_face_recognition_resnet)")
    r.real(), r.real()  # margin and distance threshold: training settings
    while True:  # add_layer / tag / skip versions down to the input layer
        save = r.pos
        if r.integer() == len("input_rgb_image_sized"):
            r.pos = save
            if r.string() == "input_rgb_image_sized":
                break
        r.pos = save
        if r.integer() not in (1, 2, 3):
            raise ModelCorruptError(f"dlib model: unexpected layer version at byte {save}")
    mean = (r.real(), r.real(), r.real())
    size = (r.integer(), r.integer())
    net = DlibNet(mean, size)
    while r.pos < len(data):
        name = r.string()
        if name == "con_4":
            params = r.tensor().reshape(-1)
            config = tuple(r.integer() for _ in range(7))
            filters, biases = r.alias(), r.alias()
            for _ in range(4):
                r.real()
            n = int(np.prod(filters))
            if params.size != n + int(np.prod(biases)):
                raise ModelCorruptError(f"dlib model: con_ parameters do not match {filters}")
            net.layers.append(Layer("con", params[:n].reshape(filters), params[n:].copy(), config))
        elif name == "affine_":
            params = r.tensor().reshape(-1)
            gamma, _ = r.alias(), r.alias()
            if r.integer() != 0:
                raise ModelCorruptError("dlib model: only per-channel affine layers are known")
            half = int(np.prod(gamma))
            net.layers.append(Layer("affine", params[:half].copy(), params[half:].copy()))
        elif name in ("max_pool_2", "avg_pool_2"):
            config = tuple(r.integer() for _ in range(6))
            net.layers.append(Layer(name[:-2], config=config))
        elif name in ("relu_", "add_prev_"):
            net.layers.append(Layer(name[:-1]))
        elif name == "fc_2":
            outputs, inputs = r.integer(), r.integer()
            params = r.tensor().reshape(-1)
            r.alias(), r.alias()
            mode = r.integer()
            for _ in range(4):
                r.real()
            if mode != 1 or params.size != inputs * outputs:  # 1: FC_NO_BIAS
                raise ModelCorruptError("dlib model: expected an fc layer without bias")
            net.layers.append(Layer("fc", params.reshape(inputs, outputs)))
        else:
            raise ModelCorruptError(f"dlib model: unknown layer {name!r} at byte {r.pos}")
        r.bools(3)
        for _ in range(3):
            r.tensor()
        if len(net.layers) == 1 and r.integer() != 1:  # the layer on the input: one more int
            raise ModelCorruptError("dlib model: unexpected sample expansion factor")
    if not net.layers or net.layers[-1].kind != "fc":
        raise ModelCorruptError("dlib model: no final fc layer; the file is incomplete")
    return net


# ------------------------------------------------------------------------------ the graph


@dataclass
class _Op:
    """One step of the network after folding: what the ONNX graph and numpy both run."""

    kind: str  # conv, relu, max_pool, avg_pool, global_pool, block_start, add, fc
    weights: Array | None = None
    bias: Array | None = None
    config: tuple[int, ...] = ()
    pooled_shortcut: bool = False


def fold(net: DlibNet) -> list[_Op]:
    """Affine layers folded into their convolutions, the input normalisation
    ((x - mean) / 256, dlib input_rgb_image) into the first convolution, and the block
    structure made explicit."""
    ops: list[_Op] = []
    layers = net.layers
    i = 0
    first = True
    while i < len(layers):
        layer = layers[i]
        if layer.kind == "con":
            assert layer.weights is not None and layer.bias is not None
            w, b = layer.weights.astype(np.float64), layer.bias.astype(np.float64)
            if i + 1 < len(layers) and layers[i + 1].kind == "affine":
                gamma = layers[i + 1].weights
                beta = layers[i + 1].bias
                assert gamma is not None and beta is not None
                w = w * gamma.reshape(-1, 1, 1, 1)
                b = b * gamma + beta
                i += 1
            if first:
                if layer.config[5:7] != (0, 0):
                    raise ModelCorruptError("dlib model: the first convolution is padded")
                w = w / 256.0
                mean = np.asarray(net.mean_rgb, np.float64)
                b = b - (w.sum(axis=(2, 3)) * mean[None, :]).sum(axis=1)
                first = False
            if ops and ops[-1].kind in ("relu", "max_pool") and _block_start(ops):
                ops.append(_Op("block_start"))
            ops.append(_Op("conv", w.astype(np.float32), b.astype(np.float32), layer.config))
        elif layer.kind == "affine":
            raise ModelCorruptError("dlib model: an affine layer that follows no convolution")
        elif layer.kind == "avg_pool" and layer.config[:2] == (0, 0):
            ops.append(_Op("global_pool"))
        elif layer.kind == "avg_pool":
            start = max(j for j, op in enumerate(ops) if op.kind == "block_start")
            ops[start].pooled_shortcut = True
            ops[start].config = layer.config
        elif layer.kind in ("relu", "max_pool"):
            ops.append(_Op(layer.kind, config=layer.config))
        elif layer.kind == "add_prev":
            ops.append(_Op("add"))
        elif layer.kind == "fc":
            ops.append(_Op("fc", layer.weights))
        i += 1
    return ops


def _block_start(ops: list[_Op]) -> bool:
    """A convolution after the stem's max pool, or after the relu closing a residual block."""
    if ops[-1].kind == "max_pool":
        return True
    return len(ops) >= 2 and ops[-1].kind == "relu" and ops[-2].kind == "add"


def _pad_add(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
    shape = tuple(max(x, y) for x, y in zip(a.shape, b.shape, strict=True))
    out = np.zeros(shape, np.float32)
    out[tuple(slice(0, s) for s in a.shape)] += a
    out[tuple(slice(0, s) for s in b.shape)] += b
    return out


def forward_numpy(ops: list[_Op], chip_rgb: npt.NDArray[Any]) -> Array:
    """Plain numpy forward pass of the folded network on one HxWx3 RGB chip (slow; the
    reference the ONNX graph is tested against)."""
    x = chip_rgb.astype(np.float32).transpose(2, 0, 1)[None]
    shortcut: tuple[npt.NDArray[Any], _Op] | None = None
    for op in ops:
        if op.kind == "conv":
            assert op.weights is not None and op.bias is not None
            x = _conv(x, op.weights, op.config[3], op.config[5]) + op.bias[None, :, None, None]
        elif op.kind == "relu":
            x = np.maximum(x, 0.0)
        elif op.kind == "max_pool":
            x = _pool(x, op.config, np.max)
        elif op.kind == "block_start":
            shortcut = (x, op)
        elif op.kind == "add":
            assert shortcut is not None
            base, start = shortcut
            if start.pooled_shortcut:
                base = _pool(base, start.config, np.mean)
            x = _pad_add(x, base)
        elif op.kind == "global_pool":
            x = x.mean(axis=(2, 3))
        elif op.kind == "fc":
            assert op.weights is not None
            x = x.reshape(1, -1) @ op.weights
    return np.asarray(x, np.float32).reshape(-1)


def _conv(x: npt.NDArray[Any], w: Array, stride: int, pad: int) -> npt.NDArray[Any]:
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, c, h, wid = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wid - kw) // stride + 1
    cols = np.empty((c, kh, kw, oh, ow), np.float32)
    for dy in range(kh):
        for dx in range(kw):
            rows = slice(dy, dy + stride * oh, stride)
            cols[:, dy, dx] = x[0, :, rows, dx : dx + stride * ow : stride]
    out = w.reshape(o, -1) @ cols.reshape(c * kh * kw, -1)
    return out.reshape(1, o, oh, ow)


def _pool(x: npt.NDArray[Any], config: tuple[int, ...], reduce: Any) -> npt.NDArray[Any]:
    rows, cols, sy, sx = config[:4]
    _, _, h, w = x.shape
    oh, ow = (h - rows) // sy + 1, (w - cols) // sx + 1
    windows = np.stack(
        [
            x[0, :, dy : dy + sy * oh : sy, dx : dx + sx * ow : sx]
            for dy in range(rows)
            for dx in range(cols)
        ]
    )
    return np.asarray(reduce(windows, axis=0))[None]


def to_onnx(net: DlibNet) -> bytes:
    """An ONNX model (opset 13) with input ``chip`` (1x3xHxW float RGB 0..255) and output
    ``descriptor`` (1x128), computing the same function as dlib's network."""
    ops = fold(net)
    g = onnxgraph.GraphBuilder("dlib_face_recognition_resnet_model_v1")
    height, width = net.input_size
    g.input("chip", [1, 3, height, width])
    x, shape = "chip", (3, height, width)
    shortcut: tuple[str, tuple[int, int, int], _Op] | None = None
    for n, op in enumerate(ops):
        if op.kind == "conv":
            assert op.weights is not None and op.bias is not None
            _, kh, kw, sy, sx, py, px = op.config
            w_name = g.initializer(f"w{n}", op.weights)
            b_name = g.initializer(f"b{n}", op.bias)
            x = g.node(
                "Conv", [x, w_name, b_name], kernel_shape=[kh, kw], strides=[sy, sx],
                pads=[py, px, py, px],
            )  # fmt: skip
            shape = (
                op.weights.shape[0],
                (shape[1] + 2 * py - kh) // sy + 1,
                (shape[2] + 2 * px - kw) // sx + 1,
            )
        elif op.kind == "relu":
            x = g.node("Relu", [x])
        elif op.kind == "max_pool":
            rows, cols, sy, sx, py, px = op.config
            x = g.node(
                "MaxPool", [x], kernel_shape=[rows, cols], strides=[sy, sx],
                pads=[py, px, py, px],
            )  # fmt: skip
            shape = (
                shape[0],
                (shape[1] + 2 * py - rows) // sy + 1,
                (shape[2] + 2 * px - cols) // sx + 1,
            )
        elif op.kind == "block_start":
            shortcut = (x, shape, op)
        elif op.kind == "add":
            assert shortcut is not None
            base, base_shape, start = shortcut
            if start.pooled_shortcut:
                rows, cols, sy, sx, _, _ = start.config
                base = g.node("AveragePool", [base], kernel_shape=[rows, cols], strides=[sy, sx])
                base_shape = (
                    base_shape[0],
                    (base_shape[1] - rows) // sy + 1,
                    (base_shape[2] - cols) // sx + 1,
                )
            target = tuple(max(a, b) for a, b in zip(shape, base_shape, strict=True))
            x = g.node("Add", [_padded(g, x, shape, target), _padded(g, base, base_shape, target)])
            shape = (target[0], target[1], target[2])
        elif op.kind == "global_pool":
            x = g.node("GlobalAveragePool", [x])
            x = g.node("Flatten", [x], axis=1)
        elif op.kind == "fc":
            assert op.weights is not None
            x = g.node("MatMul", [x, g.initializer(f"fc{n}", op.weights)])
    last = ops[-1].weights
    g.output(x, "descriptor", [1, 128 if last is None else int(last.shape[1])])
    return g.model()


def _padded(
    g: onnxgraph.GraphBuilder, x: str, shape: tuple[int, ...], target: tuple[int, ...]
) -> str:
    """``x`` zero-padded at the end of each axis to ``target`` (C, H, W), as dlib's add."""
    if tuple(shape) == tuple(target):
        return x
    pads = [0, 0, 0, 0, 0, target[0] - shape[0], target[1] - shape[1], target[2] - shape[2]]
    pad_name = g.initializer(f"pads_{x}", np.asarray(pads, np.int64))
    return g.node("Pad", [x, pad_name])


def onnx_from_dat(data: bytes) -> bytes:
    return to_onnx(parse(data))
