"""Gated spiking neuron with multi-level outputs: Ponghiran & Roy (2022).

Everything about it: the float equations (``update``, with the multi-level output of
:func:`multi_level_spikes`), their closed-form adjoint (``adjoint``), the int8 step with its quantization
sites (``int8_step``: each gate its own pair of products, the levels as comparisons and selects), its
constants as the int8 model holds them (the level boundaries and heights), the fixed int8 ranges of its
gate and membrane, its operation count and its firing threshold for recordings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from keras_spiking_rnn import adjoints, surrogates
from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import SpikingCell, check_number, check_positive_int
from keras_spiking_rnn.cells.neuron import register_neuron
from keras_spiking_rnn.int8.arithmetic import SIGMOID_RANGE, synaptic_current

# The tensors the int8 step quantizes, in computation order.
INT8_SITES = (
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


def multi_level_spikes(
    potential: tf.Tensor,
    threshold: float,
    levels: int,
    dead_zone: int,
    surrogate: surrogates.Surrogate,
) -> tf.Tensor:
    """Quantizes a membrane potential into ``levels`` output levels of height ``threshold``.

    Forward (exactly; ``q`` counts the levels below the potential):

        q = #{k in 1..levels : potential > k * threshold}     # trunc(potential / threshold), clipped to [0, levels]
        q = 0 where q <= dead_zone
        out = q * threshold

    Backward: ``q`` is a sum of steps ``H(potential / threshold - k)``, and the
    surrogate is applied to each of them, so
    ``d out / d potential = sum_k surrogate'(potential / threshold - k)``.
    The dead zone passes the gradient through unchanged (a straight-through
    estimator), so a neuron below it still learns. With ``StraightThrough(0.5)``
    the derivative is exactly 1 for potentials in
    ``(threshold / 2, (levels + 1/2) * threshold)``: the straight-through
    estimator of the authors' code. That matters: the membrane loses what it
    emits, so ``d mem_t / d mem_{t-1} = 1 - d out / d mem``, and gradients
    through time explode when ``d out / d mem`` strays far from 1 (weighting
    the first level past the dead zone by its height, ``dead_zone + 1``, gave
    gradient norms of 1e12 on a 40-step batch).

    Args:
        potential: tensor (batch, units).
        threshold: height of one level (> 0).
        levels: number of non-zero levels; 1 gives binary spikes of height ``threshold``.
        dead_zone: levels ``1..dead_zone`` are suppressed (output 0).
        surrogate: the spike function applied per level.

    Returns:
        Tensor of the shape and dtype of ``potential``, with values in
            ``{0} U {(dead_zone + 1) * threshold, ..., levels * threshold}``.

    Examples:
        >>> mem = tf.constant([[0.05, 0.25, 0.35, 2.0]])
        >>> multi_level_spikes(mem, 0.1, levels=5, dead_zone=2, surrogate=surrogates.StraightThrough())
        <tf.Tensor: shape=(1, 4), dtype=float32, numpy=array([[0. , 0. , 0.3, 0.5]], dtype=float32)>
    """
    count = _count_levels(potential / threshold, levels, surrogate)
    if dead_zone > 0:
        kept = tf.where(count > dead_zone, count, tf.zeros_like(count))
        count = count + tf.stop_gradient(kept - count)  # forward: dead zone; backward: straight through
    return threshold * count


def level_slopes(scaled, levels: int, surrogate: surrogates.Surrogate):
    """``d count / d scaled``: the surrogate's gradient summed over the levels, ``sum_k spike_gradient(scaled - k)``.

    Args:
        scaled: ``potential / threshold``, any shape.
        levels: the number of levels ``k = 1..levels``.
        surrogate: the spike function of each level.

    Returns:
        A tensor of the shape and dtype of ``scaled``.
    """
    k = tf.cast(tf.range(1, levels + 1), scaled.dtype)  # Range has no float16 kernel
    return tf.reduce_sum(surrogate.spike_gradient(scaled[..., None] - k), axis=-1)


def _count_levels(scaled, levels: int, surrogate: surrogates.Surrogate):
    """``sum_k H(scaled - k)`` over ``k = 1..levels``, with the surrogate's gradient for each level.

    Forward in closed form, ``clip(ceil(scaled) - 1, 0, levels)``, exactly the count (``scaled > k`` is
    ``ceil(scaled) - 1 >= k``), without a (..., levels) tensor; backward :func:`level_slopes`.
    """

    @tf.custom_gradient
    def count(scaled):
        total = tf.clip_by_value(tf.math.ceil(scaled) - 1.0, 0.0, float(levels))
        return total, lambda upstream: upstream * level_slopes(scaled, levels, surrogate)

    return count(scaled)


@register_neuron("gated")
class GatedSpikingCell(SpikingCell):
    """Spiking cell whose synaptic current is gated, with multi-level outputs (Ponghiran & Roy 2022).

    With ``[a_f, a_c] = x_t @ kernel + o_{t-1} @ recurrent_kernel + bias``
    (two gates of ``units`` columns each):

        forget_t = sigmoid(a_f)
        cand_t   = relu(a_c)
        syn_t    = forget_t * syn_{t-1} + (1 - forget_t) * cand_t
        mem_t    = mem_{t-1} + syn_t - o_{t-1}
        o_t      = multi_level_spikes(mem_t)     # see multi_level_spikes

    The membrane has no leak and loses what it emitted (a sigma-delta neuron),
    so ``mem`` stays >= 0 and the outputs are non-negative.

    Modelling choices where the poster is silent (following the authors'
    code, ``improved_spiking_model_v2.py``, unless stated):

    * The gates recur on the previous *output* ``o_{t-1}``, not on ``syn``.
    * One input matrix for both gates. The code batch-normalizes the gate
      pre-activations over batch and time and has no bias; this cell has a
      bias instead (``use_bias``) and no normalization, so that one step
      depends on nothing but the current input and state (streaming export).
    * The code's level height is ``M / 2**(bits - 1)`` with ``M`` a running
      estimate of ``max |mem|`` in training. Here the height is a fixed
      ``threshold`` (the weights learn the scale), which keeps a step
      deterministic and the output grid known to an int8 exporter. The
      defaults ``levels=31, dead_zone=3, threshold=1/32`` are the code's
      6 bits and dead zone 3 with ``M`` frozen at 1.
    * Outputs above ``levels * threshold`` are clipped; the excess stays in ``mem``.
    * Gradient: the surrogate per level, straight through the dead zone
      (see [`multi_level_spikes`][keras_spiking_rnn.cells.multi_level_spikes]); the default ``"straight_through"``
      reproduces the code's straight-through estimator over the output range.
    * No recurrent dropout (the code masks ``cand`` in training).
    * Initialisation as in the code: ``kernel`` Kaiming-uniform with the
      sigmoid gain (``VarianceScaling(1, "fan_in", "uniform")``),
      ``recurrent_kernel`` orthogonal with the ReLU gain ``sqrt(2)``.

    States, each (batch, units): ``synaptic`` ``syn``, ``potential`` ``mem``,
    ``output`` ``o``. Output: ``o_t``, (batch, units).

    Args:
        units: number of neurons.
        levels: number of non-zero output levels (1 = binary spikes).
        dead_zone: number of lowest levels that output 0 (``0 <= dead_zone < levels``).
        threshold: height of one output level (> 0).
        surrogate: spike function applied per level; default ``"straight_through"``.
        kernel_initializer: initializer of ``kernel``; default
            ``VarianceScaling(1.0, "fan_in", "uniform")``.
        recurrent_initializer: initializer of ``recurrent_kernel``; default
            ``Orthogonal(gain=sqrt(2))``.
        **kwargs: the other arguments of [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell].

    Raises:
        ValueError: ``levels`` not a positive integer, ``dead_zone`` not an integer in
            ``[0, levels)``, ``threshold`` not a finite number > 0, or an invalid argument of
            ``SpikingCell`` (see there).

    Examples:
        >>> layer = keras.layers.RNN(GatedSpikingCell(64, levels=7), return_sequences=True)
        >>> layer(np.zeros((2, 20, 40), "float32")).shape
        TensorShape([2, 20, 64])
    """

    state_names = ("synaptic", "potential", "output")
    n_gates = 2
    int8_state_sites = ("synaptic", "potential", "output")
    #: ``sigmoid`` (1), ``forget * syn`` and ``(1 - forget) * cand`` (2), the level count ``mem / threshold``
    #: (1): 4 MACs; ``1 - forget`` and ``mem + syn - o``: 2 ACs (counting the subtraction with the addition).
    #: Ponghiran & Roy's code counts 8 operations per neuron without separating them.
    neuron_update_operations = (4, 2)

    def __init__(
        self,
        units: int,
        levels: int = 31,
        dead_zone: int = 3,
        threshold: float = 1.0 / 32.0,
        surrogate: surrogates.SurrogateLike = "straight_through",
        kernel_initializer: Any = None,
        recurrent_initializer: Any = None,
        **kwargs: Any,
    ):
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.VarianceScaling(1.0, "fan_in", "uniform")
        if recurrent_initializer is None:
            recurrent_initializer = keras.initializers.Orthogonal(gain=math.sqrt(2.0))
        super().__init__(
            units,
            surrogate=surrogate,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            **kwargs,
        )
        self.levels = check_positive_int("GatedSpikingCell", "levels", levels)
        if isinstance(dead_zone, bool) or not isinstance(dead_zone, int) or not 0 <= dead_zone < self.levels:
            raise ValueError(
                f"GatedSpikingCell: `dead_zone` must be an integer in [0, levels) = [0, {self.levels}), "
                f"got {dead_zone!r}."
            )
        self.dead_zone = dead_zone
        self.threshold = check_number("GatedSpikingCell", "threshold", threshold)

    def update(self, current, states, constants) -> list:
        synaptic, potential, output = states
        forget = tf.sigmoid(current[:, : self.units])
        candidate = tf.nn.relu(current[:, self.units :])
        synaptic = forget * synaptic + (1.0 - forget) * candidate
        potential = potential + synaptic - output
        output = multi_level_spikes(potential, self.threshold, self.levels, self.dead_zone, self.surrogate)
        return [synaptic, potential, output]

    @property
    def output_levels(self) -> int:
        return self.levels

    @property
    def output_height(self) -> float:
        return self.threshold

    def adjoint(self, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
        """Closed-form BPTT of ``update`` (see ``keras_spiking_rnn.bptt``).

        With ``[a_f, a_c] = I_t``, ``f = sigmoid(a_f)``, ``c = relu(a_c)``, ``syn_t = f syn_{t-1} + (1 - f) c``,
        ``mem_t = mem_{t-1} + syn_t - o_{t-1}`` and ``o_t = q(mem_t)``, whose derivative is the surrogate summed
        over the levels, ``q' = gain * sum_k surrogate'(mem_t / threshold - k)`` (see ``multi_level_spikes``).
        The gate factors of all steps are computed before the loop from ``I_t`` (one product over all steps);
        the slopes are summed over the levels inside the loop, one step at a time, so that no
        (T, batch, units, levels) array is held (it would be 127 MB for the benchmark's T=250).
        """
        units = self.units
        synaptic_before, _, outputs_before = previous
        potential = stored[1]
        current = sequence
        if recurrent is not None:
            flat = tf.matmul(tf.reshape(outputs_before, (-1, units)), recurrent)
            current = sequence + tf.reshape(flat, tf.shape(sequence))

        def gate_factors():
            forget = tf.sigmoid(current[..., :units])
            candidate_input = current[..., units:]
            candidate = tf.nn.relu(candidate_input)
            d_forget_input = forget * (1.0 - forget) * (synaptic_before - candidate)  # d syn / d a_f
            d_candidate_input = (1.0 - forget) * tf.cast(candidate_input > 0, forget.dtype)  # d syn / d a_c
            return forget, tf.concat([d_forget_input, d_candidate_input], axis=-1)

        forget, factors = adjoints.run(gate_factors, jit_compile)
        feedback = None if recurrent is None else adjoints.run(lambda: tf.transpose(recurrent), jit_compile)

        def slopes(potential):  # d o / d mem = d count / d (mem / threshold)
            return level_slopes(potential / self.threshold, self.levels, self.surrogate)

        def step(t, from_synaptic, from_potential, from_output):
            d_output = d_outputs[t] + from_output
            d_potential = from_potential + d_output * slopes(potential[t])  # one step's levels at a time
            d_synaptic = from_synaptic + d_potential
            d_current = tf.concat([d_synaptic, d_synaptic], axis=-1) * factors[t]
            to_output = -d_potential
            if feedback is not None:
                to_output += tf.matmul(d_current, feedback)
            return (forget[t] * d_synaptic, d_potential, to_output), (d_current,)

        d_initial, per_step = adjoints.reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
        d_sequence = per_step[:, 0]
        d_recurrent = None if recurrent is None else adjoints.sum_over_steps(outputs_before, d_sequence)
        return d_sequence, d_recurrent, [], d_initial

    def potential_range(self) -> tuple[float, float]:
        """The int8 range of the membrane: [0, 4x the top output level].

        The sigma-delta membrane is >= 0 and, where the output saturates, grows without bound. Measured on
        MNIST-1D: agreement with the unclipped float model 99.2% at 4x, 100% at 8x, with 4x the int8 grid
        resolving each output level with 2 steps instead of 1.
        """
        return 0.0, 4.0 * (self.levels + 1) * self.threshold

    def level_constants(self) -> tuple[np.ndarray, np.ndarray]:
        """Boundaries ``k * threshold`` for ``k > dead_zone`` and the height each level adds to the output.

        The first kept level emits ``dead_zone + 1`` levels at once; each further one adds ``threshold``.
        """
        first = self.dead_zone + 1
        ks = np.arange(first, self.levels + 1, dtype=np.float32)
        heights = np.full(ks.shape, self.threshold, np.float32)
        heights[0] = first * self.threshold
        return ks * np.float32(self.threshold), heights

    def int8_parameters(self, numerics) -> dict[str, Any]:
        """The level boundaries and heights; no factor folded into the weights (``synapse_scale`` is 1)."""
        boundaries, heights = self.level_constants()
        return {"synapse_scale": numerics.ones(2 * self.units), "boundaries": boundaries, "heights": heights}

    def int8_sites(self) -> tuple[str, ...]:
        return INT8_SITES

    def int8_fixed_ranges(self) -> dict[str, tuple[float, float]]:
        return {
            "forget": SIGMOID_RANGE,
            "potential": self.potential_range(),
            "levels": (0.0, (self.dead_zone + 1) * self.threshold),
            "output": (0.0, self.levels * self.threshold),
        }

    def int8_state_clips(self) -> dict[str, tuple[float, float]]:
        return {"potential": self.potential_range()}

    def int8_step(self, x, states, parameters, ops) -> list:
        """One step in the int8 model's op order, each gate its own pair of products (Ponghiran & Roy).

        The output levels above the dead zone are a comparison of the membrane with each level's boundary
        and a SELECT_V2 of its height (batch, units, levels kept), on the grid of the heights; the output is
        their SUM. In training the gradient is the float cell's (:func:`multi_level_spikes`), carried by
        the first level.
        """
        synaptic, potential, output = states
        quantize = ops.quantize
        boundaries, heights = ops.constant(parameters["boundaries"]), ops.constant(parameters["heights"])
        kept = int(heights.shape[0])
        units = self.units

        def smooth_levels(v):
            smooth = multi_level_spikes(v, self.threshold, self.levels, self.dead_zone, self.surrogate)
            return smooth[..., None] * tf.one_hot(0, kept, dtype=v.dtype)

        gate = synaptic_current(x, output, ops.synapse(slice(0, units)), quantize, "forget_")
        gate = quantize("forget", tf.sigmoid(gate))
        cand = synaptic_current(x, output, ops.synapse(slice(units, 2 * units)), quantize, "candidate_", False)
        cand = quantize("candidate", tf.nn.relu(cand))
        kept_synaptic = quantize("kept", gate * synaptic, ("mul", gate, synaptic))
        complement = quantize("complement", 1.0 - gate)
        admitted = quantize("admitted", complement * cand, ("mul", complement, cand))
        synaptic = quantize("synaptic", kept_synaptic + admitted)
        potential = quantize("potential", quantize("potential_input", potential + synaptic) - output)
        exact = tf.where(ops.greater(potential, boundaries), heights, tf.zeros_like(heights))
        levels = quantize("levels", ops.with_gradient(exact, lambda: smooth_levels(potential)))
        new_output = quantize("output", tf.reduce_sum(levels, axis=-1), ("sum", levels))
        return [synaptic, potential, new_output]

    def threshold_trace(self, states: dict) -> np.ndarray:
        """The potential above which the output is non-zero, ``(dead_zone + 1) * threshold``."""
        output = states["output"]
        return np.full(output.shape, (self.dead_zone + 1) * self.threshold, output.dtype)

    def get_config(self) -> dict[str, Any]:
        config = {"levels": self.levels, "dead_zone": self.dead_zone, "threshold": self.threshold}
        return {**super().get_config(), **config}
