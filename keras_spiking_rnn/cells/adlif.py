"""Adaptive LIF (adLIF) neurons with an adaptation current: Euler-forward and symplectic-Euler (SE-adLIF).

The adLIF neuron adds to the LIF membrane ``u`` an adaptation current ``w`` that the potential and the
spikes drive and that pulls the potential down (Bittar & Garner 2022, "A surrogate gradient spiking
baseline for speech command recognition", Front. Neurosci. 16:865897). Depending on ``a``, the pair
``(u, w)`` integrates or resonates (sub-threshold oscillations), and ``b`` gives spike-frequency adaptation.
Baronig, Ferrand, Sabathiel & Legenstein (2025, "Advancing spatio-temporal processing in spiking neural
networks through adaptation", Nat. Commun.; arXiv 2408.07517) showed that the usual Euler-forward
discretization, in which ``w_t`` follows the previous step's ``u`` and ``s``, restricts the stable range of
the oscillations; their symplectic-Euler step updates ``w_t`` from this step's (reset) ``u_t`` and ``s_t``.

Everything about both: the float equations (``update``), the int8 step in the int8 model's op order with
its quantization sites (``int8_step``, ``int8_sites``), its constants as the int8 model holds them
(``int8_parameters``), its operation count and threshold trace. There is no closed-form adjoint: the fused
BPTT differentiates each step with a tape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import (
    InitializerLike,
    LeakyCell,
    ValueRange,
    add_time_constant,
    check_number,
    decay,
)
from keras_spiking_rnn.cells.neuron import register_neuron
from keras_spiking_rnn.int8.arithmetic import synaptic_current

# The tensors the int8 steps quantize, in computation order.
EULER_SITES = (
    "adaptation_decay",
    "adaptation_from_potential",
    "adaptation_input",
    "adaptation_from_spikes",
    "adaptation",
    "input_current",
    "recurrent_current",
    "current",
    "potential_decay",
    "adaptation_drag",
    "potential_input",
    "potential",
    "margin",
)
SYMPLECTIC_SITES = (
    "input_current",
    "recurrent_current",
    "current",
    "potential_decay",
    "adaptation_drag",
    "potential_input",
    "potential",
    "margin",
    "adaptation_decay",
    "adaptation_from_potential",
    "adaptation_input",
    "adaptation_from_spikes",
    "adaptation",
)


@register_neuron("adlif")
class AdLIFCell(LeakyCell):
    """Recurrent layer of adaptive LIF neurons with an adaptation current, Euler-forward step.

    Per neuron, with ``alpha = exp(-dt / tau_m)``, ``beta = exp(-dt / tau_w)``,
    ``I_t = x_t @ kernel + s_{t-1} @ recurrent_kernel + bias`` and the threshold ``theta``
    (Bittar & Garner 2022, in the parametrization of Baronig et al. 2025, eqs. of their EF-adLIF):

        v_t = alpha * u_{t-1} + (1 - alpha) * (I_t - w_{t-1})
        s_t = H(v_t - theta)
        u_t = v_t * (1 - s_t)                                      # reset to 0
        w_t = beta * w_{t-1} + (1 - beta) * q * (a * u_{t-1} + b * s_{t-1})

    ``a`` (in [0, 1]) couples the potential into the adaptation current, so ``(u, w)`` can oscillate;
    ``b`` (in [0, 2]) raises the current with every spike. Both are trained per neuron, as are ``tau_m``
    and ``tau_w``; ``q`` rescales ``a`` and ``b`` so that they train on the scale of ``kernel``. The
    reset's gradient is detached by default (``detach_reset``), as in Baronig et al.'s code.

    In the int8 model ``(1 - alpha)`` is folded into the synaptic weights, and ``(1 - beta) * q * a`` and
    ``(1 - beta) * q * b`` are per-neuron constants; a step is the current (two FULLY_CONNECTED and an
    ADD), six MULs and four ADD/SUBs for ``u`` and ``w``, the spike (SUB, GREATER, SELECT_V2) and the
    reset (SELECT_V2).

    States, each (batch, units): ``potential`` ``u`` (after the reset), ``adaptation`` ``w``, ``spikes``
    ``s``. Output: ``s_t``.

    Args:
        units: number of neurons.
        q: the scale of ``a`` and ``b``; default ``60 * threshold``. Baronig et al. use ``q = 60`` with
            ``theta = 1``; the equations are unchanged in units of the threshold when ``u``, ``w``, ``I`` and
            ``q`` scale with it, so the default keeps their dynamics at this cell's threshold.
        tau_w_initializer: initializer of ``tau_w``; default ``U(60, 300)`` steps (Baronig et al.).
        a_initializer: initializer of ``a``; default ``U(0, 1)``.
        b_initializer: initializer of ``b``; default ``U(0, 2)``.
        **kwargs: the arguments of [`LeakyCell`][keras_spiking_rnn.cells.LeakyCell] (``threshold``, default
            0.1 here, for inputs of unit scale through the default lecun-normal ``kernel``;
            ``tau_m_initializer``, default ``N(5, 1)`` as in every leaky cell, not Baronig et al.'s
            ``U(5, 25)``, which underfit the accuracy panel; ``detach_reset``, ...) and of
            [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell].

    Raises:
        ValueError: ``q`` not a finite number > 0; when built, a ``tau_w_initializer`` whose draws average
            at or below ``min_tau``; or an invalid argument of ``LeakyCell`` or ``SpikingCell``.

    Examples:
        >>> layer = keras.layers.RNN(AdLIFCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 30, 3), "float32")).shape
        TensorShape([2, 30, 16])
    """

    state_names = ("potential", "adaptation", "spikes")
    int8_state_sites = ("potential", "adaptation", None)
    #: ``alpha * u``, ``(1 - alpha) * (I - w)``, ``beta * w``, ``a * u``: 4 MACs; ``b * s`` adds a constant
    #: when ``s = 1``.
    neuron_update_operations = (4, 0)
    #: ``q`` per unit of threshold by default (Baronig et al.'s configurations, whose threshold is 1).
    default_q = 60.0

    def __init__(
        self,
        units: int,
        q: float | None = None,
        tau_w_initializer: InitializerLike = None,
        a_initializer: InitializerLike = None,
        b_initializer: InitializerLike = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("threshold", 0.1)
        super().__init__(units, **kwargs)
        self.q = check_number(type(self).__name__, "q", self.default_q * self.threshold if q is None else q)
        self.tau_w_initializer = keras.initializers.get(
            tau_w_initializer or keras.initializers.RandomUniform(60.0, 300.0)
        )
        self.a_initializer = keras.initializers.get(a_initializer or keras.initializers.RandomUniform(0.0, 1.0))
        self.b_initializer = keras.initializers.get(b_initializer or keras.initializers.RandomUniform(0.0, 2.0))

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.tau_w = add_time_constant(
            self, "tau_w", self.units, self.tau_w_initializer, self.min_tau, self.train_time_constants
        )
        self.a = self.add_weight(
            shape=(self.units,), name="a", initializer=self.a_initializer, constraint=ValueRange(0.0, 1.0)
        )
        self.b = self.add_weight(
            shape=(self.units,), name="b", initializer=self.b_initializer, constraint=ValueRange(0.0, 2.0)
        )

    def step_constants(self) -> tuple:
        """``(alpha, beta, drive_a, drive_b)``, each (units,): the decays, and ``(1 - beta) * q * a`` and
        ``(1 - beta) * q * b``, the adaptation current's drives by the potential and by a spike.

        Examples:
            >>> cell = AdLIFCell(4, tau_w_initializer=keras.initializers.Constant(100.0))
            >>> cell.build((None, 3))
            >>> round(float(cell.step_constants()[1][0]), 4)  # exp(-1/100)
            0.99
        """
        dtype = self.compute_dtype
        alpha, beta = decay(self.dt, self.tau_m, dtype), decay(self.dt, self.tau_w, dtype)
        rise = (1.0 - beta) * self.q
        return alpha, beta, rise * tf.cast(self.a, dtype), rise * tf.cast(self.b, dtype)

    def update(self, current, states, constants) -> list:
        potential, adaptation, spikes = states
        alpha, beta, drive_a, drive_b = constants
        adaptation_next = beta * adaptation + drive_a * potential + drive_b * spikes
        potential = alpha * potential + (1.0 - alpha) * (current - adaptation)
        spikes = self.surrogate(potential - self.threshold)
        potential = potential * (1.0 - self.reset_spikes(spikes))
        return [potential, adaptation_next, spikes]

    def int8_parameters(self, numerics) -> dict[str, Any]:
        """``alpha``, ``leak = 1 - alpha``, ``beta``, the drives ``(1 - beta) q a`` and ``(1 - beta) q b``
        (units,), the threshold; ``synapse_scale = 1 - alpha`` goes into the weights."""
        alpha = numerics.decay(self.dt, self.tau_m)
        beta = numerics.decay(self.dt, self.tau_w)
        rise = (1.0 - beta) * self.q
        return {
            "synapse_scale": 1.0 - alpha,
            "alpha": alpha,
            "leak": 1.0 - alpha,
            "beta": beta,
            "drive_a": rise * self.a,
            "drive_b": rise * self.b,
            "threshold": self.threshold,
        }

    def int8_sites(self) -> tuple[str, ...]:
        return EULER_SITES

    def _int8_adaptation(self, adaptation, potential, spikes, parameters, ops):
        """``beta * w + drive_a * u + drive_b * s`` in int8: three MULs and two ADDs."""
        quantize = ops.quantize
        beta, drive_a, drive_b = (ops.constant(parameters[k]) for k in ("beta", "drive_a", "drive_b"))
        kept = quantize("adaptation_decay", beta * adaptation, ("mul", beta, adaptation))
        pulled = quantize("adaptation_from_potential", drive_a * potential, ("mul", drive_a, potential))
        adaptation = quantize("adaptation_input", kept + pulled)
        raised = quantize("adaptation_from_spikes", drive_b * spikes, ("mul", drive_b, spikes))
        return quantize("adaptation", adaptation + raised)

    def _int8_potential(self, x, potential, adaptation, spikes, parameters, ops):
        """The potential before the reset, ``alpha * u + (1 - alpha) I - (1 - alpha) w``, and its spikes."""
        quantize = ops.quantize
        alpha, leak, threshold = (ops.constant(parameters[k]) for k in ("alpha", "leak", "threshold"))
        current = synaptic_current(x, spikes, ops.synapse(), quantize)
        decayed = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
        drag = quantize("adaptation_drag", leak * adaptation, ("mul", leak, adaptation))
        potential = quantize("potential", quantize("potential_input", decayed + current) - drag)
        fired = ops.spike(quantize("margin", potential - threshold))
        # SELECT_V2 keeps its input's scale: the reset potential is on the grid of "potential".
        reset = quantize("potential", tf.where(fired > 0.5, tf.zeros_like(potential), potential))
        return reset, fired

    def int8_step(self, x, states, parameters, ops) -> list:
        """One Euler-forward step in the int8 model's op order: ``w_t`` from ``u_{t-1}`` and ``s_{t-1}`` first."""
        potential, adaptation, spikes = states
        adaptation_next = self._int8_adaptation(adaptation, potential, spikes, parameters, ops)
        potential, spikes = self._int8_potential(x, potential, adaptation, spikes, parameters, ops)
        return [potential, adaptation_next, spikes]

    def threshold_trace(self, states: dict) -> np.ndarray:
        """The constant ``threshold`` (the adaptation acts as a current, not on the threshold)."""
        output = states["output"]
        return np.full(output.shape, self.threshold, output.dtype)

    def get_config(self) -> dict[str, Any]:
        config = {
            "q": self.q,
            "tau_w_initializer": keras.initializers.serialize(self.tau_w_initializer),
            "a_initializer": keras.initializers.serialize(self.a_initializer),
            "b_initializer": keras.initializers.serialize(self.b_initializer),
        }
        return {**super().get_config(), **config}


@register_neuron("se_adlif")
class SEAdLIFCell(AdLIFCell):
    """Adaptive LIF neurons with an adaptation current, symplectic-Euler step (SE-adLIF, Baronig et al. 2025).

    As [`AdLIFCell`][keras_spiking_rnn.cells.AdLIFCell], but the adaptation current follows this step's
    reset potential and spikes:

        v_t = alpha * u_{t-1} + (1 - alpha) * (I_t - w_{t-1})
        s_t = H(v_t - theta)
        u_t = v_t * (1 - s_t)
        w_t = beta * w_{t-1} + (1 - beta) * q * (a * u_t + b * s_t)

    which keeps the oscillations of ``(u, w)`` stable over a wider range of ``a``, ``tau_m`` and
    ``tau_w`` than the Euler-forward step; Baronig et al. use ``q = 120`` with ``theta = 1``. The int8 step has the
    same ops in another order. ``q`` defaults to ``120 * threshold``.

    Args:
        units: number of neurons.
        **kwargs: the arguments of [`AdLIFCell`][keras_spiking_rnn.cells.AdLIFCell].

    Examples:
        >>> layer = keras.layers.RNN(SEAdLIFCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 30, 3), "float32")).shape
        TensorShape([2, 30, 16])
    """

    default_q = 120.0
    # The same counts and threshold as the Euler-forward step, declared for these equations.
    neuron_update_operations = AdLIFCell.neuron_update_operations
    threshold_trace = AdLIFCell.threshold_trace

    def update(self, current, states, constants) -> list:
        potential, adaptation, spikes = states
        alpha, beta, drive_a, drive_b = constants
        potential = alpha * potential + (1.0 - alpha) * (current - adaptation)
        spikes = self.surrogate(potential - self.threshold)
        potential = potential * (1.0 - self.reset_spikes(spikes))
        adaptation = beta * adaptation + drive_a * potential + drive_b * spikes
        return [potential, adaptation, spikes]

    def int8_sites(self) -> tuple[str, ...]:
        return SYMPLECTIC_SITES

    def int8_step(self, x, states, parameters, ops) -> list:
        """One symplectic-Euler step in the int8 model's op order: ``u_t`` and ``s_t``, then ``w_t`` from them."""
        potential, adaptation, spikes = states
        potential, spikes = self._int8_potential(x, potential, adaptation, spikes, parameters, ops)
        adaptation = self._int8_adaptation(adaptation, potential, spikes, parameters, ops)
        return [potential, adaptation, spikes]
