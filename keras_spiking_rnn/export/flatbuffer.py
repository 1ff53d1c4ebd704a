"""Reading a .tflite flatbuffer: its ops, tensors and quantization, and whether TFLite Micro runs it as int8."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_TYPE_NAMES = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}

# Builtin op -> (MicroMutableOpResolver method, tensor types the TFLM kernel implements for it).
# Read from tensorflow/lite/micro/kernels/*.cc (tflite-micro 2026-08-20), restricted to the int8 path.
TFLM_INT8_OPS: dict[str, tuple[str, frozenset[str]]] = {
    "FULLY_CONNECTED": ("AddFullyConnected", frozenset({"INT8", "INT32"})),
    "ADD": ("AddAdd", frozenset({"INT8"})),
    "SUB": ("AddSub", frozenset({"INT8"})),
    "MUL": ("AddMul", frozenset({"INT8"})),
    "GREATER": ("AddGreater", frozenset({"INT8", "BOOL"})),
    "SELECT_V2": ("AddSelectV2", frozenset({"INT8", "BOOL"})),
    "SUM": ("AddSum", frozenset({"INT8", "INT32"})),
    "LOGISTIC": ("AddLogistic", frozenset({"INT8"})),
    "TANH": ("AddTanh", frozenset({"INT8"})),
    "RELU": ("AddRelu", frozenset({"INT8"})),
    "SOFTMAX": ("AddSoftmax", frozenset({"INT8"})),
    "MINIMUM": ("AddMinimum", frozenset({"INT8"})),
    "MAXIMUM": ("AddMaximum", frozenset({"INT8"})),
    "QUANTIZE": ("AddQuantize", frozenset({"INT8"})),
    "RESHAPE": ("AddReshape", frozenset({"INT8", "INT32"})),
    "VAR_HANDLE": ("AddVarHandle", frozenset({"RESOURCE"})),
    "READ_VARIABLE": ("AddReadVariable", frozenset({"RESOURCE", "INT8"})),
    "ASSIGN_VARIABLE": ("AddAssignVariable", frozenset({"RESOURCE", "INT8"})),
    "CALL_ONCE": ("AddCallOnce", frozenset()),
}
# TFLM's int8 comparisons rescale their inputs with QuantizeMultiplierSmallerThanOneExp, which aborts the
# process (not an error status) when an input scale is >= 1.
_COMPARISONS = {"GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "EQUAL", "NOT_EQUAL"}


class UnsupportedOpError(ValueError):
    """The converted model uses an op or type that TFLite Micro cannot run as int8.

    [`export_tflite_micro`][keras_spiking_rnn.export.api.export_tflite_micro] raises it after conversion, naming the op
    (and the tensor); nothing is written then.

    Examples:
        >>> try:
        ...     result = export_tflite_micro(model, x_train[:256], "build/model")
        ... except UnsupportedOpError as error:
        ...     print(error)  # e.g. a float tensor: part of the model was not quantized
    """


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type: str
    shape: tuple[int, ...]
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "shape": list(self.shape),
            "scale": list(self.scales),
            "zero_point": list(self.zero_points),
        }


@dataclass(frozen=True)
class ModelInfo:
    """What a flatbuffer holds: ops in execution order (main subgraph), their tensors, inputs and outputs."""

    ops: tuple[str, ...]  # every distinct builtin op of all subgraphs, sorted
    op_sequence: tuple[str, ...]  # ops of the main subgraph in execution order
    tensors: tuple[TensorInfo, ...]  # main subgraph
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    constant_bytes: int  # bytes of all constant buffers: weights, biases, per-neuron factors, initial values
    weight_bytes: int  # bytes of the FULLY_CONNECTED weights and biases
    macs: int  # multiply-accumulates of the FULLY_CONNECTED ops per invoke (one timestep)
    _operators: tuple = ()

    def check_tflm_int8(self) -> None:
        """Raises UnsupportedOpError naming the first op TFLite Micro cannot run as int8."""
        for name in self.ops:
            if name not in TFLM_INT8_OPS:
                raise UnsupportedOpError(
                    f"The converted model uses op {name}, which this exporter cannot verify for TFLite Micro int8. "
                    f"Supported: {', '.join(sorted(TFLM_INT8_OPS))}."
                )
        for op_name, inputs, outputs in self._operators:
            allowed = TFLM_INT8_OPS[op_name][1]
            for index in (*inputs, *outputs):
                tensor = self.tensors[index]
                if tensor.type not in allowed:
                    raise UnsupportedOpError(
                        f"Op {op_name} has tensor {tensor.name!r} of type {tensor.type}; TFLite Micro's int8 "
                        f"{op_name} takes {sorted(allowed)}. A float tensor means part of the model was not quantized."
                    )
            if op_name in _COMPARISONS:
                for index in inputs:
                    tensor = self.tensors[index]
                    if tensor.scales and max(tensor.scales) >= 1.0:
                        raise UnsupportedOpError(
                            f"Op {op_name} compares tensor {tensor.name!r} with quantization scale "
                            f"{max(tensor.scales):.3g} >= 1, which TFLite Micro's int8 comparison cannot rescale "
                            "(it aborts). The tensor's calibrated range exceeds 255; narrow it with `state_ranges`."
                        )


def read_model(flatbuffer: bytes) -> ModelInfo:
    """Parses ``flatbuffer``: the model's ops, tensors with their quantization, and sizes.

    Args:
        flatbuffer: the bytes of a .tflite file.

    Returns:
        A ``ModelInfo`` with ``ops`` (every builtin op, sorted), ``op_sequence`` (the main subgraph's ops
            in execution order), ``tensors``, ``inputs`` and ``outputs`` (each a ``TensorInfo`` with name,
            type, shape, scales and zero points), ``constant_bytes``, ``weight_bytes`` and ``macs`` (of
            the FULLY_CONNECTED ops per invoke).

    Examples:
        >>> info = read_model(open("build/mnist1d/model.tflite", "rb").read())
        >>> info.ops
        ('ADD', 'ASSIGN_VARIABLE', 'CALL_ONCE', 'FULLY_CONNECTED', 'GREATER', ..., 'VAR_HANDLE')
        >>> info.inputs[0].type, info.inputs[0].shape  # one frame of 8 features per invoke
        ('INT8', (1, 8))
    """
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    codes = [_OP_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)] for code in model.operatorCodes]
    main = model.subgraphs[0]

    def info(tensor) -> TensorInfo:
        q = tensor.quantization
        scales = tuple(float(s) for s in (q.scale if q is not None and q.scale is not None else []))
        zeros = tuple(int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else []))
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        shape = tuple(int(d) for d in (tensor.shape if tensor.shape is not None else []))
        return TensorInfo(name, _TYPE_NAMES[tensor.type], shape, scales, zeros)

    tensors = tuple(info(t) for t in main.tensors)
    operators = tuple(
        (
            codes[op.opcodeIndex],
            tuple(int(i) for i in (op.inputs if op.inputs is not None else []) if i >= 0),
            tuple(int(i) for i in (op.outputs if op.outputs is not None else []) if i >= 0),
        )
        for op in (main.operators or [])
    )

    def nbytes(buffer_index: int) -> int:
        data = model.buffers[buffer_index].data
        return 0 if data is None else int(np.asarray(data).nbytes)

    constant_bytes = sum(nbytes(i) for i in range(len(model.buffers)))
    weight_buffers = {
        main.tensors[index].buffer
        for op_name, inputs, _ in operators
        if op_name == "FULLY_CONNECTED"
        for index in inputs[1:]
    }
    weight_bytes = sum(nbytes(b) for b in weight_buffers)
    macs = sum(
        int(np.prod(tensors[inputs[1]].shape)) for op_name, inputs, _ in operators if op_name == "FULLY_CONNECTED"
    )
    return ModelInfo(
        ops=tuple(sorted(set(codes))),
        op_sequence=tuple(op[0] for op in operators),
        tensors=tensors,
        inputs=tuple(tensors[i] for i in main.inputs),
        outputs=tuple(tensors[i] for i in main.outputs),
        constant_bytes=constant_bytes,
        weight_bytes=weight_bytes,
        macs=macs,
        _operators=operators,
    )
