"""The names the TFLite converter gives the tensors of a streaming step, and the QAT ranges noted under them.

The converter keeps a TensorFlow op's name for the tensor it computes, with a few rules of its own (fused
FULLY_CONNECTED, the renamed input and output). The export of a quantization-aware model relies on them
to put each learned range on the right tensor of the calibrated model; a name that is not found is an
error (``convert._quantize_with_ranges``), never a silent calibration.
"""

from __future__ import annotations


def converted_names(tensor) -> tuple[str, ...]:
    """The names the TFLite converter (TF 2.21) may give the tensor an op computes: the TF op's name; for a
    MatMul plus bias, fused into FULLY_CONNECTED, ``"MatMul;add"``, or ``"MatMul1"`` if the bias is all
    zeros and dropped; for a MatMul alone, ``"MatMul1"``; for the input, ``"serving_default_frame:0"``."""
    op = tensor.op
    while op.type == "Identity":
        op = op.inputs[0].op
    if op.type == "Placeholder":
        return (f"serving_default_{op.name}:0",)
    if op.type in ("AddV2", "Add", "BiasAdd") and op.inputs[0].op.type == "MatMul" and op.inputs[1].op.type == "Const":
        return f"{op.inputs[0].op.name};{op.name}", op.inputs[0].op.name + "1"
    if op.type == "MatMul":
        return (op.name + "1",)
    return (op.name,)


class RangeRecorder:
    """Where the streaming steps note, while ``step`` is traced, the QAT range of each tensor under its
    converted name. A plain object: ``tf.Module`` would turn a dict attribute into a tracked structure."""

    def __init__(self):
        self.ranges: dict[str, tuple[float, float]] = {}  # converted tensor name -> QAT range
        self.reads: dict[str, list[str]] = {}  # state -> converted names of its reads
        self.stores: dict[str, str] = {}  # state -> converted name of the value assigned to it
        self.required: list[tuple[str, ...]] = []  # each quantized tensor's possible names
        self.output = None  # the step's output tensor

    def clear(self) -> None:
        self.ranges.clear()
        self.required.clear()
        self.reads.clear()
        self.stores.clear()
        self.output = None

    def tensor_ranges(self) -> dict[str, tuple[float, float]]:
        """The QAT ranges by converted name, including each state's reads (a variable holds what is assigned
        to it) and the model output, which the converter renames."""
        ranges = dict(self.ranges)
        for state, value in self.stores.items():
            if value in self.ranges:
                ranges.update({read: self.ranges[value] for read in self.reads.get(state, [])})
        output = converted_names(self.output)[0] if self.output is not None else None
        if output in ranges:
            ranges["StatefulPartitionedCall:0"] = ranges[output]
        return ranges
