"""Running an exported model in the TensorFlow Lite Micro interpreter (pip package ``tflite-micro``)."""

from __future__ import annotations

import numpy as np

from keras_spiking_rnn.export.capture import captured_output
from keras_spiking_rnn.export.flatbuffer import TensorInfo

# The Python TFLM interpreter the exports were verified with (../shared/TFLM.md: kernels change between versions).
TESTED_TFLITE_MICRO = "0.dev20261023182759"


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Verifying an export needs the TensorFlow Lite Micro interpreter: "
            'pip install "keras-spiking-rnn[export]" (the `tflite-micro` package).'
        ) from error
    return runtime


def quantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Float values to the int8 grid of ``tensor`` (round half away from zero, saturated), as TFLite does."""
    scale, zero_point = tensor.scales[0], tensor.zero_points[0]
    scaled = np.asarray(values, np.float64) / scale
    q = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    return ((values.astype(np.float32) - tensor.zero_points[0]) * tensor.scales[0]).astype(np.float32)


class TFLMModel:
    """The TFLM interpreter over one exported streaming model.

    Args:
        flatbuffer: the .tflite bytes.
        input_info, output_info: the model's input and output tensors (for (de)quantization).
        arena_size: bytes of tensor arena to give the interpreter.

    Example:
        >>> tflm = TFLMModel(flatbuffer, info.inputs[0], info.outputs[0])
        >>> int8_outputs = tflm.run(quantize(x_test[:4], info.inputs[0]))   # (4, timesteps, outputs) int8
    """

    def __init__(self, flatbuffer: bytes, input_info: TensorInfo, output_info: TensorInfo, arena_size: int = 1 << 20):
        runtime = _runtime()
        self.input_info, self.output_info = input_info, output_info
        with captured_output() as log:
            try:
                self.interpreter = runtime.Interpreter.from_bytes(flatbuffer, arena_size=arena_size)
            except RuntimeError as error:
                raise RuntimeError(f"TFLite Micro could not allocate the model: {log.text().strip()}") from error

    def run(self, sequences: np.ndarray) -> np.ndarray:
        """Steps through int8 ``sequences`` (n, timesteps, features); each sequence starts with ``reset()``.

        Returns the int8 output of every step, (n, timesteps, outputs).
        """
        n, steps = sequences.shape[:2]
        outputs = np.empty((n, steps, self.output_info.shape[-1]), np.int8)
        interpreter = self.interpreter
        for i in range(n):
            interpreter.reset()
            for t in range(steps):
                interpreter.set_input(sequences[i, t][None], 0)
                interpreter.invoke()
                outputs[i, t] = interpreter.get_output(0)[0]
        return outputs

    def allocation_report(self) -> str:
        """TFLM's own table of arena allocations (``print_allocations``), after one invoke."""
        with captured_output() as log:
            self.interpreter.print_allocations()
        return log.text()


def _allocates(flatbuffer: bytes, arena_size: int) -> bool:
    runtime = _runtime()
    with captured_output():
        try:
            interpreter = runtime.Interpreter.from_bytes(flatbuffer, arena_size=arena_size)
        except RuntimeError:
            return False
        interpreter.reset()
    return True


def smallest_arena(flatbuffer: bytes, upper: int = 1 << 20, granularity: int = 16) -> int:
    """The smallest tensor arena (bytes, a multiple of ``granularity``) with which TFLM allocates the model.

    Found by bisection over ``Interpreter.from_bytes(arena_size=...)``: the Python interpreter has no
    accessor for the arena's used bytes. The figure is for this host (64-bit pointers); a 32-bit
    microcontroller needs somewhat less.
    """
    if not _allocates(flatbuffer, upper):
        raise RuntimeError(f"TFLite Micro cannot allocate the model in {upper} bytes of arena.")
    low, high = 0, upper // granularity  # allocates at high * granularity, not at low * granularity
    while high - low > 1:
        middle = (low + high) // 2
        if _allocates(flatbuffer, middle * granularity):
            high = middle
        else:
            low = middle
    return high * granularity
