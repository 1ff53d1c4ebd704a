"""One timestep of each layer, written in the order and with the ops of the int8 TFLite Micro model.

Both the streaming export (``keras_spiking_rnn.export.streaming``) and the
quantization-aware cells (``keras_spiking_rnn.quantization.layers``) compute a
step with these functions, so that training sees the same sequence of
roundings as the microcontroller. Every elementary op's result passes through
``quantize(site, tensor)``, where ``site`` names the tensor:

* in a float export, ``quantize`` is the identity and the converter calibrates
  each tensor;
* in quantization-aware training it fake-quantizes to a range tracked in
  training;
* in the export of a quantization-aware model it fake-quantizes to the learned
  range, which the TFLite converter adopts as the int8 tensor's scale.

A spike compares the *margin* ``potential - threshold`` with 0 (a SUB, then GREATER against the
constant 0) rather than the potential with the threshold: TFLM's int8 GREATER rescales two operands of
different scales with its own rounding, so a potential that equals the threshold on the int8 grid could
compare either way, while the rounding of SUB is the one training reproduces.

The parameters (``kernel`` ...) arrive as the int8 model will hold them: the
``(1 - alpha)`` factor folded into the synaptic weights, and, in training,
already fake-quantized as the converter quantizes constants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

Quantizer = Callable[..., tf.Tensor]  # quantize(site, tensor, operation=None) -> tensor
SpikeFunction = Callable[[tf.Tensor, Any], tf.Tensor]  # (potential, threshold) -> 0/1 spikes

# Output ranges that TFLite's int8 kernels fix, whatever the calibration: LOGISTIC and SOFTMAX output
# scale 1/256 with zero point -128, TANH 1/128 with zero point 0.
SIGMOID_RANGE = (0.0, 255.0 / 256.0)
TANH_RANGE = (-1.0, 127.0 / 128.0)

# The sites each layer quantizes, in computation order.
LEAKY_SITES = ("input_current", "recurrent_current", "current", "potential_decay", "potential", "margin")
ALIF_SITES = (
    "input_current",
    "recurrent_current",
    "current",
    "adaptation_decay",
    "adaptation_rise",
    "adaptation",
    "threshold",
    "potential_decay",
    "potential_input",
    "reset",
    "potential",
    "margin",
)
LIF_SUBTRACT_SITES = (
    "input_current",
    "recurrent_current",
    "current",
    "potential_decay",
    "potential_input",
    "reset",
    "potential",
    "margin",
)
GATED_SITES = (
    "forget_input",
    "forget_recurrent",
    "forget_current",
    "forget",
    "candidate_input",
    "candidate_recurrent",
    "candidate_current",
    "candidate",
    "kept",
    "complement",
    "admitted",
    "synaptic",
    "potential_input",
    "potential",
    "levels",
    "output",
)
READOUT_SITES = ("current", "potential_decay", "potential")  # one FULLY_CONNECTED: its output is the current
MEAN_SITES = ("scaled", "mean")


@dataclass
class Synapse:
    """``x @ kernel + bias + previous @ recurrent``, each matrix (in, units) as the int8 model holds it."""

    kernel: Any
    bias: Any = None
    recurrent: Any = None


def synaptic_current(
    x, previous, synapse: Synapse, quantize: Quantizer, prefix: str = "", round_sum: bool = True
) -> tf.Tensor:
    """The summed input of a layer: two FULLY_CONNECTED ops (input, recurrent) and an ADD.

    Sites: ``{prefix}input_current`` (``x @ kernel + bias``), ``{prefix}recurrent_current`` and ``{prefix}current``;
    a gated cell uses the prefixes ``forget_``/``candidate_`` with the names ``input``/``recurrent``/``current``.
    ``round_sum=False`` leaves the ADD's result to the caller: a RELU after it is fused into the ADD by the
    converter, which then rounds once, on the RELU's grid.
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


def lif_step(x, potential, spikes, synapse: Synapse, alpha, threshold, reset: str, quantize: Quantizer, spike):
    """One LIF step (Yin et al. eqs. 2-4 with ``(1 - alpha)`` folded into ``synapse``).

    Args:
        x: input frame (batch, features); potential, spikes: the state (batch, units).
        alpha: decay per neuron (units,); threshold: scalar.
        reset: ``"zero"`` or ``"subtract"``.
        quantize, spike: see the module docstring.

    Returns:
        ``(spikes, potential)``, each (batch, units).
    """
    current = synaptic_current(x, spikes, synapse, quantize)
    decayed = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
    if reset == "zero":
        # SELECT_V2 keeps its input's scale; naming its output as the same site keeps the converter from
        # calibrating it and imposing that range on the product instead.
        kept = quantize("potential_decay", tf.where(spikes > 0.5, tf.zeros_like(decayed), decayed))
        potential = quantize("potential", kept + current)
    else:
        potential = quantize("potential_input", decayed + current)
        reset_by = quantize("reset", threshold * spikes, ("mul", threshold, spikes))
        potential = quantize("potential", potential - reset_by)
    return spike(quantize("margin", potential - threshold), 0.0), potential


def alif_step(x, potential, eta, spikes, synapse: Synapse, alpha, rho, rise, threshold, quantize: Quantizer, spike):
    """One ALIF step (Yin et al. eqs. 5-8); the adaptation state is ``beta * eta`` and ``rise = beta * (1 - rho)``.

    Returns:
        ``(spikes, potential, adaptation)``, each (batch, units).
    """
    current = synaptic_current(x, spikes, synapse, quantize)
    kept = quantize("adaptation_decay", rho * eta, ("mul", rho, eta))
    eta = quantize("adaptation", kept + quantize("adaptation_rise", rise * spikes, ("mul", rise, spikes)))
    theta = quantize("threshold", threshold + eta)
    decayed = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
    potential = quantize("potential_input", decayed + current)
    potential = quantize("potential", potential - quantize("reset", theta * spikes, ("mul", theta, spikes)))
    return spike(quantize("margin", potential - theta), 0.0), potential, eta


def gated_step(x, synaptic, potential, output, forget: Synapse, candidate: Synapse, level_outputs, quantize: Quantizer):
    """One step of the gated multi-level cell (Ponghiran & Roy), each gate its own pair of products.

    ``level_outputs(potential)`` is (batch, units, levels kept): what each output level above the dead zone
    contributes (its height where the potential exceeds its boundary, else 0); a comparison and SELECT_V2
    in the int8 model, the surrogate per level in training. The output is their SUM.

    Returns:
        ``(output, synaptic, potential)``, each (batch, units).
    """
    gate = quantize("forget", tf.sigmoid(synaptic_current(x, output, forget, quantize, "forget_")))
    cand = tf.nn.relu(synaptic_current(x, output, candidate, quantize, "candidate_", round_sum=False))
    cand = quantize("candidate", cand)
    kept = quantize("kept", gate * synaptic, ("mul", gate, synaptic))
    complement = quantize("complement", 1.0 - gate)
    admitted = quantize("admitted", complement * cand, ("mul", complement, cand))
    synaptic = quantize("synaptic", kept + admitted)
    potential = quantize("potential", quantize("potential_input", potential + synaptic) - output)
    levels = quantize("levels", level_outputs(potential))  # SELECT_V2: on the grid of the level heights
    new_output = quantize("output", tf.reduce_sum(levels, axis=-1), ("sum", levels))
    return new_output, synaptic, potential


def readout_step(x, potential, synapse: Synapse, alpha, quantize: Quantizer):
    """One leaky-integrator step, ``u = alpha u + x @ kernel' + bias'``; returns the new potential."""
    current = synaptic_current(x, None, synapse, quantize)
    decayed = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
    return quantize("potential", decayed + current)


def running_mean_step(total, value, inverse_length, quantize: Quantizer):
    """``total + value / T``, the running mean of a sequence of length ``T``."""
    scaled = quantize("scaled", inverse_length * value, ("mul", inverse_length, value))
    return quantize("mean", total + scaled)


def gated_potential_range(cell) -> tuple[float, float]:
    """The int8 range of the gated cell's membrane: [0, 4x the top output level].

    The sigma-delta membrane is >= 0 and, where the output saturates, grows without bound. Measured on
    MNIST-1D: agreement with the unclipped float model 99.2% at 4x, 100% at 8x, with 4x the int8 grid
    resolving each output level with 2 steps instead of 1.
    """
    return 0.0, 4.0 * (cell.levels + 1) * cell.threshold


def gated_levels(cell) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries ``k * threshold`` for ``k > dead_zone`` and the height each level adds to the output.

    The first kept level emits ``dead_zone + 1`` levels at once; each further one adds ``threshold``.
    """
    first = cell.dead_zone + 1
    ks = np.arange(first, cell.levels + 1, dtype=np.float32)
    heights = np.full(ks.shape, cell.threshold, np.float32)
    heights[0] = first * cell.threshold
    return ks * np.float32(cell.threshold), heights
