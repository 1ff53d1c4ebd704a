"""Running an exported model in the TensorFlow Lite Micro interpreter (pip package ``tflite-micro``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

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
        input_info: the model's input tensor, from [`read_model`][keras_spiking_rnn.export.flatbuffer.read_model]
            (``info.inputs[0]``).
        output_info: the model's output tensor (``info.outputs[0]``); its shape sets the outputs per step.
        arena_size: bytes of tensor arena to give the interpreter.

    Raises:
        RuntimeError: TFLite Micro cannot allocate the model in ``arena_size`` bytes (TFLM's log says why).
        ImportError: the ``tflite-micro`` package is missing.

    Examples:
        >>> from keras_spiking_rnn.export.tflm import quantize
        >>> flatbuffer = open("build/mnist1d/model.tflite", "rb").read()
        >>> info = read_model(flatbuffer)
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
        """Steps through int8 ``sequences``; each sequence starts with ``reset()``.

        Args:
            sequences: int8 sequences (n, timesteps, features), e.g. ``quantize(x, info.inputs[0])``.

        Returns:
            The int8 output of every step, array (n, timesteps, outputs).

        Examples:
            >>> outputs = tflm.run(quantize(x_test[:2], info.inputs[0]))
            >>> outputs.shape == (2, x_test.shape[1], info.outputs[0].shape[-1]), outputs.dtype
            (True, dtype('int8'))
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
        """TFLM's own table of arena allocations (``print_allocations``), after one invoke.

        Returns:
            The text TFLM prints, with lines such as
                ``[RecordingMicroAllocator] Arena allocation total 7392 bytes``.

        Examples:
            >>> print(tflm.allocation_report())  # after tflm.run(...)
        """
        with captured_output() as log:
            self.interpreter.print_allocations()
        return log.text()


# Probes allocation in a child process: for some too-small arena sizes the Python TFLM interpreter crashes
# (SIGSEGV) instead of reporting failure (seen with tflite-micro 0.dev20261023182759 on a SpikeCountReadout +
# Dense model at 16, 256 and 4096 bytes), which must not take the caller's process down.
_PROBE = """
import sys
from tflite_micro.python.tflite_micro import runtime
flatbuffer = open(sys.argv[1], "rb").read()
for line in sys.stdin:
    size = int(line)
    try:
        runtime.Interpreter.from_bytes(flatbuffer, arena_size=size).reset()
        answer = 1
    except RuntimeError:
        answer = 0
    print("KSR_ARENA", size, answer, flush=True)
"""


class _AllocationProbe:
    """A child process that answers "does the model allocate in N bytes?"; restarted after a crash."""

    def __init__(self, flatbuffer: bytes):
        _runtime()  # a clear ImportError here rather than in the child
        self.directory = tempfile.TemporaryDirectory(prefix="ksr_arena_")
        self.path = os.path.join(self.directory.name, "model.tflite")
        with open(self.path, "wb") as file:
            file.write(flatbuffer)
        self.child: subprocess.Popen | None = None

    def __enter__(self) -> _AllocationProbe:
        return self

    def __exit__(self, *exc) -> None:
        self._stop()
        self.directory.cleanup()

    def _stop(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            self.child = None

    def allocates(self, arena_size: int) -> bool:
        if self.child is None:
            self.child = subprocess.Popen(
                [sys.executable, "-c", _PROBE, self.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        try:
            self.child.stdin.write(f"{arena_size}\n")
            self.child.stdin.flush()
            for line in self.child.stdout:
                if line.startswith("KSR_ARENA "):
                    return line.split()[2] == "1"
        except BrokenPipeError:
            pass
        self._stop()  # the child crashed on this size: it does not allocate there
        return False


def smallest_arena(flatbuffer: bytes, upper: int = 1 << 20, granularity: int = 16) -> int:
    """The smallest tensor arena (bytes, a multiple of ``granularity``) with which TFLM allocates the model.

    Found by bisection over ``Interpreter.from_bytes(arena_size=...)``: the Python interpreter has no
    accessor for the arena's used bytes. Each size is tried in a child process, since the interpreter
    may crash on too small an arena. The figure is for this host (64-bit pointers); a 32-bit
    microcontroller needs somewhat less.

    Args:
        flatbuffer: the .tflite bytes.
        upper: the largest arena to try, in bytes.
        granularity: the step of the search, in bytes.

    Returns:
        The arena size in bytes.

    Raises:
        RuntimeError: the model does not allocate even in ``upper`` bytes.
        ImportError: the ``tflite-micro`` package is missing.

    Examples:
        >>> smallest_arena(open("build/mnist1d/model.tflite", "rb").read())
    """
    with _AllocationProbe(flatbuffer) as probe:
        if not probe.allocates(upper):
            raise RuntimeError(f"TFLite Micro cannot allocate the model in {upper} bytes of arena.")
        low, high = 0, upper // granularity  # allocates at high * granularity, not at low * granularity
        while high - low > 1:
            middle = (low + high) // 2
            if probe.allocates(middle * granularity):
                high = middle
            else:
                low = middle
    return high * granularity
