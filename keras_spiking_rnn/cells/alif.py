"""Adaptive leaky integrate-and-fire (ALIF) neuron: Yin, Corradi & Bohté (2021), eqs. (5)-(8).

Everything about it: the float equations (``update``), their closed-form adjoint (``adjoint``), the int8
step with its quantization sites (``int8_step``, ``int8_sites``), its constants as the int8 model holds them
(``int8_parameters``: the state is ``beta * eta``, so the rise per spike is ``beta * (1 - rho)``), its
operation count and its moving threshold for recordings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from keras_spiking_rnn import adjoints
from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import InitializerLike, LeakyCell, add_time_constant, check_number, decay
from keras_spiking_rnn.cells.neuron import register_neuron
from keras_spiking_rnn.int8.arithmetic import synaptic_current

# The tensors the int8 step quantizes, in computation order.
INT8_SITES = (
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


@register_neuron("alif")
class ALIFCell(LeakyCell):
    """Recurrent layer of adaptive LIF neurons with trainable time constants.

    Per neuron, with ``alpha = exp(-dt / tau_m)``, ``rho = exp(-dt / tau_adp)``
    and ``I_t = x_t @ kernel + s_{t-1} @ recurrent_kernel + bias``
    (eqs. 5-8 of Yin et al. 2021, as in the authors' code):

        eta_t   = rho * eta_{t-1} + (1 - rho) * s_{t-1}
        theta_t = threshold + adaptation * eta_t
        u_t     = alpha * u_{t-1} + (1 - alpha) * I_t - theta_t * s_{t-1}
        s_t     = H(u_t - theta_t)

    The reset subtracts the threshold after a spike; each spike raises the
    threshold, which relaxes back with ``tau_adp``. ``adaptation=0`` gives a
    LIF neuron with soft reset. ``threshold=0.01`` (``b0``) is the paper's;
    ``adaptation=0.3`` (``beta``) is not: the paper's ``beta=1.8`` (SHD, SSC,
    S-MNIST, spike-coded inputs) lifts the threshold of a neuron firing at
    rate ``r`` by ``1.8 r``, about the scale of the whole membrane potential
    for inputs of unit scale through the default lecun-normal ``kernel``; in
    the accuracy panel it trained ALIF worse on GunPoint and the 8x8 digits,
    and with a detached reset held it at 36% on digits (docs/benchmarks.md).
    Its code uses ``b0=1.6, beta=0.184`` for GSC and TIMIT; pass
    ``adaptation=1.8`` for the SHD setting.

    The reset's gradient is kept (``detach_reset=False`` by default, unlike
    the other leaky cells): a subtractive reset feeds back ``-theta_t *
    surrogate'`` per step, bounded by the threshold, and does not make
    gradients grow with the sequence length as the hard reset does (the
    largest gradient at 2,000 steps is 1.3-1.6x that at 50 steps). Keeping
    it makes the surrogate gradient exact; detached, ALIF reached 62% on
    GunPoint in the accuracy panel, against 85% (docs/benchmarks.md).

    The state keeps the adaptation trace ``eta`` (0 at rest), not the
    threshold, so that every state rests at zero. The int8 model keeps
    ``beta * eta`` instead (one multiplication fewer per step), with the rise
    ``beta * (1 - rho)`` per spike folded into one constant.

    States, each (batch, units): ``potential`` ``u``, ``adaptation`` ``eta``,
    ``spikes`` ``s``. Output: ``s_t``, (batch, units).

    Args:
        units: number of neurons.
        adaptation: ``beta``, the threshold increase per unit of ``eta`` (>= 0); the
            paper's 1.8 for spike-coded inputs such as SHD.
        tau_adp_initializer: initializer of ``tau_adp``; default ``N(150, 10)``
            (Yin et al. Table S1, SHD; S-MNIST used ``N(200, 50)``).
        **kwargs: the arguments of [`LeakyCell`][keras_spiking_rnn.cells.LeakyCell]
            (``threshold``, ``tau_m_initializer``, ``train_time_constants``,
            ``min_tau``, ``dt``, ``initial_potential``, ``detach_reset``, default
            False here) and of
            [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell] (``surrogate``,
            ``recurrent``, ``use_bias``, initializers, regularizers).

    Raises:
        ValueError: ``adaptation`` not a finite number >= 0; when built, a ``tau_adp_initializer``
            whose draws average at or below ``min_tau``; or an invalid argument of ``LeakyCell`` or
            ``SpikingCell`` (see there).

    Examples:
        >>> layer = keras.layers.RNN(ALIFCell(64), return_sequences=True)
        >>> layer(np.zeros((2, 50, 40), "float32")).shape
        TensorShape([2, 50, 64])
    """

    state_names = ("potential", "adaptation", "spikes")
    int8_state_sites = ("potential", "adaptation", None)  # the int8 "adaptation" is beta * eta
    #: LIF's 2, plus ``rho * eta`` (the ``(1 - rho) * s`` term adds a constant when ``s = 1``) and
    #: ``theta = b0 + beta * eta``: 4 MACs.
    neuron_update_operations = (4, 0)

    def __init__(
        self,
        units: int,
        adaptation: float = 0.3,
        tau_adp_initializer: InitializerLike = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("detach_reset", False)
        super().__init__(units, **kwargs)
        self.adaptation = check_number("ALIFCell", "adaptation", adaptation, strict=False)
        if tau_adp_initializer is None:
            tau_adp_initializer = keras.initializers.RandomNormal(mean=150.0, stddev=10.0)
        self.tau_adp_initializer = keras.initializers.get(tau_adp_initializer)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.tau_adp = add_time_constant(
            self, "tau_adp", self.units, self.tau_adp_initializer, self.min_tau, self.train_time_constants
        )

    def step_constants(self) -> tuple:
        """``(alpha, rho)``: the decays of the membrane and of the adaptation per step.

        ``alpha = exp(-dt / tau_m)`` and ``rho = exp(-dt / tau_adp)``.

        Returns:
            A 2-tuple of tensors of shape (units,), in the cell's compute dtype.

        Examples:
            >>> cell = ALIFCell(
            ...     4,
            ...     tau_m_initializer=keras.initializers.Constant(10.0),
            ...     tau_adp_initializer=keras.initializers.Constant(100.0),
            ... )
            >>> cell.build((None, 3))
            >>> alpha, rho = cell.step_constants()
            >>> round(float(alpha[0]), 4), round(float(rho[0]), 4)  # exp(-1/10), exp(-1/100)
            (0.9048, 0.99)
        """
        return (decay(self.dt, self.tau_m, self.compute_dtype), decay(self.dt, self.tau_adp, self.compute_dtype))

    def update(self, current, states, constants) -> list:
        potential, eta, spikes = states
        alpha, rho = constants
        eta = rho * eta + (1.0 - rho) * spikes
        theta = self.threshold + self.adaptation * eta
        potential = alpha * potential + (1.0 - alpha) * current - theta * self.reset_spikes(spikes)
        spikes = self.surrogate(potential - theta)
        return [potential, eta, spikes]

    def adjoint(self, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
        """Closed-form BPTT of ``update`` (see ``keras_spiking_rnn.bptt``); the surrogate slopes of all steps at once.

        Carried backwards: the gradients that step ``t + 1`` passes to ``u_t``, ``eta_t`` and ``s_t``; they
        start as the gradients of the final states.
        """
        alpha, rho = constants
        potential, eta, _ = stored
        potential_before, eta_before, spikes_before = previous
        theta = self.threshold + self.adaptation * eta
        slope = adjoints.surrogate_slopes(self.surrogate, potential - theta, jit_compile)
        beta = self.adaptation
        feedback = adjoints.feedback_matrix(recurrent, alpha, jit_compile)
        input_rate = 1.0 - rho
        through_reset = 0.0 if self.detach_reset else 1.0

        def step(t, from_potential, from_eta, from_spikes):
            d_v = (d_outputs[t] + from_spikes) * slope[t]
            d_potential = from_potential + d_v
            d_eta = from_eta - beta * (d_v + d_potential * spikes_before[t])  # d theta_t = -(d_v + d_u * s_{t-1})
            to_spikes = input_rate * d_eta - through_reset * theta[t] * d_potential
            if feedback is not None:
                to_spikes += tf.matmul(d_potential, feedback)
            return (alpha * d_potential, rho * d_eta, to_spikes), (d_potential, d_eta)

        d_initial, per_step = adjoints.reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
        d_potential, d_eta = tf.unstack(per_step, axis=1)
        d_sequence, d_recurrent, through_input = adjoints.input_gradients(
            d_potential, alpha, sequence, spikes_before, recurrent
        )
        d_alpha = tf.reduce_sum(d_potential * potential_before, axis=[0, 1]) - through_input
        d_rho = tf.reduce_sum(d_eta * (eta_before - spikes_before), axis=[0, 1])
        return d_sequence, d_recurrent, [d_alpha, d_rho], d_initial

    def int8_parameters(self, numerics) -> dict[str, Any]:
        """``alpha``, ``rho``, the rise ``beta * (1 - rho)`` (units,) and ``b0``; ``1 - alpha`` goes into the
        weights."""
        alpha = numerics.decay(self.dt, self.tau_m)
        rho = numerics.decay(self.dt, self.tau_adp)
        return {
            "synapse_scale": 1.0 - alpha,
            "alpha": alpha,
            "rho": rho,
            "rise": self.adaptation * (1.0 - rho),
            "threshold": self.threshold,
        }

    def int8_sites(self) -> tuple[str, ...]:
        return INT8_SITES

    def int8_step(self, x, states, parameters, ops) -> list:
        """One ALIF step in the int8 model's op order; the adaptation state is ``beta * eta``."""
        potential, eta, spikes = states
        quantize = ops.quantize
        alpha, rho, rise = (ops.constant(parameters[name]) for name in ("alpha", "rho", "rise"))
        current = synaptic_current(x, spikes, ops.synapse(), quantize)
        kept = quantize("adaptation_decay", rho * eta, ("mul", rho, eta))
        eta = quantize("adaptation", kept + quantize("adaptation_rise", rise * spikes, ("mul", rise, spikes)))
        theta = quantize("threshold", parameters["threshold"] + eta)
        decayed = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
        potential = quantize("potential_input", decayed + current)
        reset_by = ops.detached(spikes) if self.detach_reset else spikes
        potential = quantize("potential", potential - quantize("reset", theta * reset_by, ("mul", theta, reset_by)))
        return [potential, eta, ops.spike(quantize("margin", potential - theta))]

    def threshold_trace(self, states: dict) -> np.ndarray:
        """The moving threshold ``threshold + adaptation * eta_t``."""
        return (self.threshold + self.adaptation * states["adaptation"]).astype(states["output"].dtype)

    def get_config(self) -> dict[str, Any]:
        config = {
            "adaptation": self.adaptation,
            "tau_adp_initializer": keras.initializers.serialize(self.tau_adp_initializer),
        }
        return {**super().get_config(), **config}
