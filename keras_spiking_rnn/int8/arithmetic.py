"""The building blocks of one timestep in the order and with the ops of the int8 TFLite Micro model.

Each neuron writes its ``int8_step`` with these blocks and with the :class:`Int8Ops` that its stage
hands it; both the streaming export (``keras_spiking_rnn.export.streaming``) and the quantization-aware
cells (``keras_spiking_rnn.quantization.layers``) run that one step, so that training sees the same
sequence of roundings as the microcontroller. Every elementary op's result passes through
``ops.quantize(site, tensor)``, where ``site`` names the tensor:

* in a float export, ``quantize`` is the identity and the converter calibrates each tensor;
* in quantization-aware training it fake-quantizes to a range tracked in training;
* in the export of a quantization-aware model it notes the learned range, which the TFLite converter
  adopts as the int8 tensor's scale.

A spike compares the *margin* ``potential - threshold`` with 0 (a SUB, then GREATER against the constant
0, see :meth:`Int8Ops.spike`) rather than the potential with the threshold: TFLM's int8 GREATER rescales
two operands of different scales with its own rounding, so a potential that equals the threshold on the
int8 grid could compare either way, while the rounding of SUB is the one training reproduces.

The parameters (``kernel`` ...) arrive as the int8 model will hold them: a neuron's ``synapse_scale``
(e.g. LIF's ``1 - alpha``) folded into the synaptic weights, and, in training, already fake-quantized as
the converter quantizes constants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

Quantizer = Callable[..., tf.Tensor]  # quantize(site, tensor, operation=None) -> tensor

# Output ranges that TFLite's int8 kernels fix, whatever the calibration: LOGISTIC and SOFTMAX output
# scale 1/256 with zero point -128, TANH 1/128 with zero point 0.
SIGMOID_RANGE = (0.0, 255.0 / 256.0)
TANH_RANGE = (-1.0, 127.0 / 128.0)

MEAN_SITES = ("scaled", "mean")  # the running mean of a readout: its product and its sum


@dataclass
class Synapse:
    """``x @ kernel + bias + previous @ recurrent``, each matrix (in, units) as the int8 model holds it."""

    kernel: Any
    bias: Any = None
    recurrent: Any = None


class Int8Ops:
    """What a neuron's ``int8_step`` asks of the stage that runs it: the interface, documented once.

    Quantization-aware training (``keras_spiking_rnn.quantization.layers``) and the streaming export
    (``keras_spiking_rnn.export.streaming``) each implement it; a neuron never knows which one it talks to.

    Attributes:
        quantize: ``quantize(site, tensor, operation=None)``: ``tensor`` rounded to the int8 grid of
            ``site`` (see the module docstring). ``operation`` (``("mul", a, b)``, ``("fc", x, kernel,
            bias)`` or ``("sum", values)``) lets training requantize an integer product exactly as TFLM does.
    """

    quantize: Quantizer

    def constant(self, value: Any) -> Any:
        """A constant operand (a decay factor, a threshold) as the int8 model holds it.

        Args:
            value: a Python float or an array, from the neuron's ``int8_parameters``.

        Returns:
            The value itself in the export (the converter quantizes it); in training, the value
                fake-quantized as the converter stores a constant, registered so that products with it are
                requantized as TFLM does.
        """
        raise NotImplementedError

    def synapse(self, columns: slice = slice(None)) -> Synapse:
        """The layer's ``kernel``, ``bias`` and ``recurrent_kernel`` columns ``columns``, times the neuron's
        ``synapse_scale``, as the int8 model holds them (int8 weights, an int32 bias)."""
        raise NotImplementedError

    def detached(self, tensor) -> Any:
        """``tensor`` without a gradient in training (``tf.stop_gradient``); in the export, ``tensor`` itself.

        A neuron with ``detach_reset`` passes its previous spikes through it before the reset.
        """
        return tensor

    def spike(self, margin) -> tf.Tensor:
        """Spikes ``H(margin)``: 1 where the int8 ``margin`` is above 0 (GREATER, then SELECT_V2), else 0;
        in training the gradient is the neuron's surrogate at ``margin``."""
        raise NotImplementedError

    def greater(self, a, b) -> tf.Tensor:
        """TFLM's int8 GREATER of ``a`` (batch, units) against the constant ``b`` (k,): booleans
        (batch, units, k)."""
        raise NotImplementedError

    def with_gradient(self, exact, smooth: Callable[[], tf.Tensor]) -> tf.Tensor:
        """``exact`` forward; in training, the gradient of ``smooth()`` (a tensor of ``exact``'s shape),
        which the export never computes."""
        raise NotImplementedError


def synaptic_current(
    x: tf.Tensor,
    previous: tf.Tensor | None,
    synapse: Synapse,
    quantize: Quantizer,
    prefix: str = "",
    round_sum: bool = True,
) -> tf.Tensor:
    """The summed input of a layer: two FULLY_CONNECTED ops (input, recurrent) and an ADD.

    Sites: ``{prefix}input_current`` (``x @ kernel + bias``), ``{prefix}recurrent_current`` and ``{prefix}current``;
    a gated cell uses the prefixes ``forget_``/``candidate_`` with the names ``input``/``recurrent``/``current``.
    ``round_sum=False`` leaves the ADD's result to the caller: a RELU after it is fused into the ADD by the
    converter, which then rounds once, on the RELU's grid.

    Args:
        x: this step's input (batch, features); previous: the layer's previous output (batch, units), or
            None without recurrence.
        synapse: the weights as the int8 model holds them.
        quantize: the stage's ``quantize``.
        prefix: prefix of the site names.
        round_sum: whether to round the sum to the site ``{prefix}current``.

    Returns:
        The current, (batch, units).
    """
    names = _current_sites(prefix)
    current = tf.matmul(x, synapse.kernel)
    if synapse.bias is not None:
        current = current + synapse.bias
    inputs = ("fc", x, synapse.kernel, synapse.bias)
    if synapse.recurrent is None:
        return quantize(names[2], current, inputs)  # one FULLY_CONNECTED: its output is the current
    current = quantize(names[0], current, inputs)
    recurrent = tf.matmul(previous, synapse.recurrent)
    recurrent = quantize(names[1], recurrent, ("fc", previous, synapse.recurrent, None))
    return quantize(names[2], current + recurrent) if round_sum else current + recurrent


def _current_sites(prefix: str) -> tuple[str, str, str]:
    if prefix:
        return f"{prefix}input", f"{prefix}recurrent", f"{prefix}current"
    return "input_current", "recurrent_current", "current"


def running_mean_step(total, value, inverse_length, quantize: Quantizer):
    """``total + value / T``, the running mean of a sequence of length ``T``: a MUL and an ADD."""
    scaled = quantize("scaled", inverse_length * value, ("mul", inverse_length, value))
    return quantize("mean", total + scaled)
