"""Leaky integrate-and-fire (LIF) neuron: Yin, Corradi & Bohté (2021), eqs. (2)-(4).

Everything about it: the float equations (``update``), their closed-form adjoint for the fused BPTT
(``adjoint``), the int8 step in the int8 model's op order with its quantization sites (``int8_step``,
``int8_sites``), its constants as the int8 model holds them (``int8_parameters``), its operation count and
its threshold trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from keras_spiking_rnn import adjoints
from keras_spiking_rnn.cells.base import LeakyCell
from keras_spiking_rnn.cells.neuron import register_neuron
from keras_spiking_rnn.int8.arithmetic import synaptic_current

_RESETS = ("zero", "subtract")

# The tensors the int8 step quantizes, in computation order, by reset.
ZERO_RESET_SITES = ("input_current", "recurrent_current", "current", "potential_decay", "potential", "margin")
SUBTRACT_RESET_SITES = (
    "input_current",
    "recurrent_current",
    "current",
    "potential_decay",
    "potential_input",
    "reset",
    "potential",
    "margin",
)


@register_neuron("lif")
class LIFCell(LeakyCell):
    """Recurrent layer of leaky integrate-and-fire neurons, one timestep at a time.

    With ``alpha = exp(-dt / tau_m)`` per neuron and
    ``I_t = x_t @ kernel + s_{t-1} @ recurrent_kernel + bias``:

    * ``reset="zero"`` (Yin et al. eq. 2, reset potential ``u_r = 0``):
      ``u_t = alpha * u_{t-1} * (1 - s_{t-1}) + (1 - alpha) * I_t``
    * ``reset="subtract"``:
      ``u_t = alpha * u_{t-1} + (1 - alpha) * I_t - threshold * s_{t-1}``
      (the same as [`ALIFCell`][keras_spiking_rnn.cells.ALIFCell] with ``adaptation=0``)
    * ``s_t = H(u_t - threshold)``, with the surrogate gradient in training.

    Eq. (3) of the paper decays by ``1 - 1/tau_m`` and scales the input by
    ``1/tau_m``; this cell uses ``alpha = exp(-dt/tau_m)`` and ``1 - alpha``,
    as the authors' code does. The two agree to first order in ``1/tau_m``,
    and ``exp`` keeps the decay in (0, 1) for every ``tau_m > 0``.

    The default threshold 0.01 is the ``b0`` of the authors' code, whose LIF
    layers are ALIF layers without adaptation.

    In the int8 model ``(1 - alpha)`` is folded into the synaptic weights, so a
    step is: the current (two FULLY_CONNECTED and an ADD), ``alpha * u`` (MUL),
    the reset (zero: SELECT_V2 on the previous spikes, then ADD; subtract: ADD,
    MUL by the threshold, SUB) and the spike (SUB of the threshold, GREATER
    than 0, SELECT_V2).

    States, each (batch, units): ``potential`` ``u``, ``spikes`` ``s``.
    Output: ``s_t``, (batch, units), 0/1 in the compute dtype.

    Args:
        units: number of neurons.
        reset: ``"zero"`` (hard reset to 0) or ``"subtract"`` (soft reset).
        **kwargs: the arguments of [`LeakyCell`][keras_spiking_rnn.cells.LeakyCell]
            (``threshold``, ``tau_m_initializer``, ``train_time_constants``,
            ``min_tau``, ``dt``, ``initial_potential``) and of
            [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell] (``surrogate``,
            ``recurrent``, ``use_bias``, initializers, regularizers).

    Raises:
        ValueError: ``reset`` neither ``"zero"`` nor ``"subtract"``, or an invalid argument of
            ``LeakyCell`` or ``SpikingCell`` (see there).

    Examples:
        >>> layer = keras.layers.RNN(LIFCell(32), return_sequences=True)
        >>> layer(np.zeros((4, 10, 3), "float32")).shape
        TensorShape([4, 10, 32])
    """

    state_names = ("potential", "spikes")
    int8_state_sites = ("potential", None)
    #: ``alpha * u`` and ``(1 - alpha) * I``: 2 MACs; the reset is a select or a conditional subtraction.
    neuron_update_operations = (2, 0)

    def __init__(self, units: int, reset: str = "zero", **kwargs: Any):
        super().__init__(units, **kwargs)
        if reset not in _RESETS:
            raise ValueError(f"LIFCell: `reset` must be one of {_RESETS}, got {reset!r}.")
        self.reset = reset

    def update(self, current, states, constants) -> list:
        potential, spikes = states
        (alpha,) = constants
        reset_by = self.reset_spikes(spikes)
        if self.reset == "zero":
            potential = alpha * potential * (1.0 - reset_by) + (1.0 - alpha) * current
        else:
            potential = alpha * potential + (1.0 - alpha) * current - self.threshold * reset_by
        spikes = self.surrogate(potential - self.threshold)
        return [potential, spikes]

    def adjoint(self, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
        """Closed-form BPTT of ``update``, both resets (see ``keras_spiking_rnn.bptt``).

        Carried backwards: the gradients that step ``t + 1`` passes to ``u_t`` and ``s_t``; with
        ``detach_reset``, ``s_t`` receives nothing through the reset.
        """
        (alpha,) = constants
        potential = stored[0]
        potential_before, spikes_before = previous
        slope = adjoints.surrogate_slopes(self.surrogate, potential - self.threshold, jit_compile)
        zero_reset = self.reset == "zero"
        feedback = adjoints.feedback_matrix(recurrent, alpha, jit_compile)
        threshold = self.threshold
        through_reset = not self.detach_reset

        def step(t, from_potential, from_spikes):
            d_potential = from_potential + (d_outputs[t] + from_spikes) * slope[t]
            if zero_reset:
                to_potential = alpha * (1.0 - spikes_before[t]) * d_potential
                reset_gain = -alpha * potential_before[t]
            else:
                to_potential = alpha * d_potential
                reset_gain = -threshold
            to_spikes = reset_gain * d_potential if through_reset else tf.zeros_like(d_potential)
            if feedback is not None:
                to_spikes += tf.matmul(d_potential, feedback)
            return (to_potential, to_spikes), (d_potential,)

        d_initial, per_step = adjoints.reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
        d_potential = per_step[:, 0]
        d_sequence, d_recurrent, through_input = adjoints.input_gradients(
            d_potential, alpha, sequence, spikes_before, recurrent
        )
        kept = potential_before * (1.0 - spikes_before) if zero_reset else potential_before
        d_alpha = tf.reduce_sum(d_potential * kept, axis=[0, 1]) - through_input
        return d_sequence, d_recurrent, [d_alpha], d_initial

    def int8_parameters(self, numerics) -> dict[str, Any]:
        """``alpha`` (units,), the threshold, and ``synapse_scale = 1 - alpha`` folded into the weights."""
        alpha = numerics.decay(self.dt, self.tau_m)
        return {"synapse_scale": 1.0 - alpha, "alpha": alpha, "threshold": self.threshold}

    def int8_sites(self) -> tuple[str, ...]:
        return ZERO_RESET_SITES if self.reset == "zero" else SUBTRACT_RESET_SITES

    def int8_step(self, x, states, parameters, ops) -> list:
        """One LIF step in the int8 model's op order (Yin et al. eqs. 2-4, ``(1 - alpha)`` in the weights)."""
        potential, spikes = states
        quantize = ops.quantize
        alpha, threshold = ops.constant(parameters["alpha"]), ops.constant(parameters["threshold"])
        current = synaptic_current(x, spikes, ops.synapse(), quantize)
        decayed = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
        spikes = ops.detached(spikes) if self.detach_reset else spikes  # only the reset uses them from here on
        if self.reset == "zero":
            # SELECT_V2 keeps its input's scale; naming its output as the same site keeps the converter from
            # calibrating it and imposing that range on the product instead.
            kept = quantize("potential_decay", tf.where(spikes > 0.5, tf.zeros_like(decayed), decayed))
            potential = quantize("potential", kept + current)
        else:
            potential = quantize("potential_input", decayed + current)
            reset_by = quantize("reset", threshold * spikes, ("mul", threshold, spikes))
            potential = quantize("potential", potential - reset_by)
        return [potential, ops.spike(quantize("margin", potential - threshold))]

    def threshold_trace(self, states: dict) -> np.ndarray:
        """The constant ``threshold`` at every step."""
        output = states["output"]
        return np.full(output.shape, self.threshold, output.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset": self.reset}
