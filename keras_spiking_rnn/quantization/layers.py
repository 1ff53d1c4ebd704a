"""Quantization-aware versions of the library's layers (Keras 3).

Each computes a step with ``keras_spiking_rnn.quantization.arithmetic``, the
op sequence of the int8 TFLite Micro model, with every weight, constant,
activation and state fake-quantized as the int8 kernels will round them. The
ranges of activations and states are exponential moving averages of each
batch's extremes over all timesteps; ``learned_ranges()`` hands them to the
exporter, which puts them into the int8 model unchanged.

Made by [`quantize_model`][keras_spiking_rnn.quantization.model.quantize_model]; use that rather
than these classes directly.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells import ALIFCell, GatedSpikingCell, LeakyIntegratorCell, LIFCell, multi_level_spikes
from keras_spiking_rnn.cells.base import decay
from keras_spiking_rnn.layers import LeakyReadout, SpikeCountReadout, SpikingRNN
from keras_spiking_rnn.quantization import arithmetic
from keras_spiking_rnn.quantization.fake_quant import (
    SiteRanges,
    quantize_bias,
    quantize_constant,
    quantize_weights,
    range_scale,
    weight_scale,
)

_PACKAGE = "keras_spiking_rnn"
RANGE_DECAY = 0.99  # per batch; 0.99 follows a fine-tuning run of a few hundred batches


def _check_decay(range_decay: float) -> float:
    if isinstance(range_decay, bool) or not isinstance(range_decay, (int, float)) or not 0.0 <= range_decay < 1.0:
        raise ValueError(f"`range_decay` must be a number in [0, 1), got {range_decay!r}.")
    return float(range_decay)


class _QuantizedCell:
    """Mixin for a cell: fake-quantized step, plus a last state (batch, 2 * tracked sites) of the extremes
    seen by each site during the sequence, from which the layer updates the ranges once per batch."""

    projects_inputs = False  # each step rounds its own inputs and product, as the int8 model does

    def __init__(
        self,
        *args: Any,
        per_channel: bool = False,
        range_decay: float = RANGE_DECAY,
        input_range: tuple[float, float] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.per_channel = bool(per_channel)
        self.range_decay = _check_decay(range_decay)
        # The int8 range of the inputs when an upstream layer fixes it (spikes: [0, 1]); None: the inputs are
        # the model's, and this cell rounds them to a range it tracks (site "input").
        self.input_range = None if input_range is None else (float(input_range[0]), float(input_range[1]))
        tracked = [site for site in self.all_sites() if site not in self.fixed_ranges()]
        self.state_size = list(self.state_size) + [2 * len(tracked)]

    def quantized_sites(self) -> tuple[str, ...]:
        raise NotImplementedError

    def all_sites(self) -> tuple[str, ...]:
        return (("input",) if self.input_range is None else ()) + tuple(self.quantized_sites())

    def input_scale(self):
        """The int8 step of this cell's inputs (the bias is stored in units of it times the weights')."""
        return range_scale(*(self.input_range or self.site_ranges.range_of("input")))

    def fixed_ranges(self) -> dict[str, tuple[float, float]]:
        return {}

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.site_ranges = SiteRanges(self, self.all_sites(), self.fixed_ranges(), self.range_decay)

    def get_initial_state(self, batch_size=None, **kwargs):
        states = list(super().get_initial_state(batch_size=batch_size, **kwargs))
        batch = tf.shape(states[0])[0]
        return states + [tf.zeros((batch, self.state_size[-1]), dtype=self.compute_dtype)]

    def synapse(self, quantize, scale, columns=slice(None)) -> arithmetic.Synapse:
        """The weights as the int8 model holds them: ``(1 - alpha)`` folded in, then quantized (registered
        with ``quantize`` so that the products are requantized as TFLM does)."""
        kernel = self.kernel[:, columns] * scale
        bias = None
        if self.bias is not None:
            bias = quantize_bias(
                self.bias[columns] * scale, self.input_scale() * weight_scale(kernel, self.per_channel)
            )
        kernel = quantize.weights(kernel, self.per_channel)
        recurrent = None
        if getattr(self, "recurrent_kernel", None) is not None:
            recurrent = quantize.weights(self.recurrent_kernel[:, columns] * scale, self.per_channel)
        return arithmetic.Synapse(kernel, bias, recurrent)

    # The site whose grid each state is stored on (None: spikes, exactly 0 or 1 on the grid of [0, 1]).
    state_sites: tuple[str | None, ...] = ()

    def call(self, inputs, states, training=None):
        *states, extremes = states
        observed: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}
        quantize = self.site_ranges.quantizer(observed, axis=-1)
        if self.input_range is None:
            inputs = quantize("input", inputs)
        else:
            quantize.register(inputs, self.input_scale())
        for state, site in zip(states, self.state_sites):
            quantize.register(state, range_scale(*self.site_ranges.range_of(site)) if site else 1.0 / 255.0)
        output, new_states = self.quantized_step(inputs, states, quantize)
        sites = self.site_ranges.sites
        previous = tf.reshape(extremes, (-1, len(sites), 2))
        merged = []
        for i, site in enumerate(sites):
            low, high = previous[:, i, 0], previous[:, i, 1]
            if site in observed:
                low, high = tf.minimum(low, observed[site][0]), tf.maximum(high, observed[site][1])
            merged.append(tf.stack([low, high], axis=-1))
        extremes = tf.reshape(tf.stack(merged, axis=1), (-1, 2 * len(sites)))
        return output, [*new_states, extremes]

    def quantized_step(self, inputs, states, quantize):
        raise NotImplementedError

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        return self.site_ranges.learned()

    def get_config(self) -> dict[str, Any]:
        config = {"per_channel": self.per_channel, "range_decay": self.range_decay, "input_range": self.input_range}
        return {**super().get_config(), **config}


def _spike_function(surrogate, quantize):
    """Spikes from the margin ``potential - threshold`` (threshold 0 here, see ``arithmetic``): forward, TFLM's
    int8 comparison with 0; backward, the surrogate's gradient."""

    def spike(margin, threshold):
        smooth = surrogate(margin - threshold)
        exact = tf.cast(quantize.positive(margin), smooth.dtype)
        return smooth + tf.stop_gradient(exact - smooth)

    return spike


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedLIFCell(_QuantizedCell, LIFCell):
    """A ``LIFCell`` computed as its int8 TFLite Micro model computes it.

    The float cell is [`LIFCell`][keras_spiking_rnn.cells.LIFCell].

    Args:
        *args: the positional arguments of ``LIFCell`` (``units``, ...).
        per_channel: one weight scale per output neuron instead of one per matrix.
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        input_range: the ``(min, max)`` range of the inputs when the layer below fixes it (spikes:
            ``(0, 1)``); None: the inputs are the model's, rounded to a range the cell learns.
        **kwargs: the keyword arguments of ``LIFCell``.

    Raises:
        ValueError: ``range_decay`` not a number in [0, 1), or an invalid argument of ``LIFCell``.

    Examples:
        >>> layer = QuantizedSpikingRNN(neuron=QuantizedLIFCell(8), return_sequences=True)
        >>> layer(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 20, 8])
    """

    state_sites = ("potential", None)

    def quantized_sites(self):
        return arithmetic.LEAKY_SITES if self.reset == "zero" else arithmetic.LIF_SUBTRACT_SITES

    def quantized_step(self, inputs, states, quantize):
        potential, spikes = states
        alpha = decay(self.dt, self.tau_m, self.compute_dtype)
        spikes, potential = arithmetic.lif_step(
            inputs,
            potential,
            spikes,
            self.synapse(quantize, 1.0 - alpha),
            quantize.constant(alpha),
            quantize.constant(self.threshold),
            self.reset,
            quantize,
            _spike_function(self.surrogate, quantize),
        )
        return spikes, [potential, spikes]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedALIFCell(_QuantizedCell, ALIFCell):
    """An ``ALIFCell`` computed as its int8 TFLite Micro model computes it.

    The float cell is [`ALIFCell`][keras_spiking_rnn.cells.ALIFCell].

    Args:
        *args: the positional arguments of ``ALIFCell`` (``units``, ...).
        per_channel: one weight scale per output neuron instead of one per matrix.
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        input_range: the ``(min, max)`` range of the inputs when the layer below fixes it (spikes:
            ``(0, 1)``); None: the inputs are the model's, rounded to a range the cell learns.
        **kwargs: the keyword arguments of ``ALIFCell``.

    Raises:
        ValueError: ``range_decay`` not a number in [0, 1), or an invalid argument of ``ALIFCell``.

    Examples:
        >>> layer = QuantizedSpikingRNN(neuron=QuantizedALIFCell(8, per_channel=True), return_sequences=True)
        >>> layer(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 20, 8])
    """

    state_sites = ("potential", "adaptation", None)

    def quantized_sites(self):
        return arithmetic.ALIF_SITES

    def quantized_step(self, inputs, states, quantize):
        potential, eta, spikes = states  # eta is beta * eta here, as in the int8 model
        alpha = decay(self.dt, self.tau_m, self.compute_dtype)
        rho = decay(self.dt, self.tau_adp, self.compute_dtype)
        spikes, potential, eta = arithmetic.alif_step(
            inputs,
            potential,
            eta,
            spikes,
            self.synapse(quantize, 1.0 - alpha),
            quantize.constant(alpha),
            quantize.constant(rho),
            quantize.constant(self.adaptation * (1.0 - rho)),
            self.threshold,
            quantize,
            _spike_function(self.surrogate, quantize),
        )
        return spikes, [potential, eta, spikes]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedGatedSpikingCell(_QuantizedCell, GatedSpikingCell):
    """A ``GatedSpikingCell`` computed as its int8 TFLite Micro model computes it.

    The float cell is [`GatedSpikingCell`][keras_spiking_rnn.cells.GatedSpikingCell].
    The output levels are the int8 model's: each level's height and boundary rounded to int8 as
    constants, the sum rounded to the output's grid. The gradient is the float cell's
    ([`multi_level_spikes`][keras_spiking_rnn.cells.multi_level_spikes]).

    Args:
        *args: the positional arguments of ``GatedSpikingCell`` (``units``, ...).
        per_channel: one weight scale per output neuron instead of one per matrix.
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        input_range: the ``(min, max)`` range of the inputs when the layer below fixes it (spikes:
            ``(0, 1)``); None: the inputs are the model's, rounded to a range the cell learns.
        **kwargs: the keyword arguments of ``GatedSpikingCell``.

    Raises:
        ValueError: ``range_decay`` not a number in [0, 1), or an invalid argument of ``GatedSpikingCell``.

    Examples:
        >>> layer = QuantizedSpikingRNN(neuron=QuantizedGatedSpikingCell(8, levels=7), return_sequences=True)
        >>> layer(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 20, 8])
    """

    state_sites = ("synaptic", "potential", "output")

    def quantized_sites(self):
        return arithmetic.GATED_SITES

    def fixed_ranges(self):
        return {
            "forget": arithmetic.SIGMOID_RANGE,
            "potential": arithmetic.gated_potential_range(self),
            "levels": (0.0, (self.dead_zone + 1) * self.threshold),
            "output": (0.0, self.levels * self.threshold),
        }

    def quantized_step(self, inputs, states, quantize):
        synaptic, potential, output = states
        boundaries, heights = arithmetic.gated_levels(self)
        boundaries, heights = quantize.constant(boundaries), quantize_constant(heights)
        kept = heights.shape[0]

        def level_outputs(v):
            exact = tf.where(quantize.greater(v, boundaries), heights, tf.zeros_like(heights))
            smooth = multi_level_spikes(v, self.threshold, self.levels, self.dead_zone, self.surrogate)
            # Forward: the int8 levels; backward: the float cell's gradient (carried by the first level).
            carry = (smooth - tf.stop_gradient(smooth))[..., None] * tf.one_hot(0, kept, dtype=v.dtype)
            return exact + carry

        ones = tf.ones((self.units,), self.compute_dtype)
        output, synaptic, potential = arithmetic.gated_step(
            inputs,
            synaptic,
            potential,
            output,
            self.synapse(quantize, ones, slice(0, self.units)),
            self.synapse(quantize, ones, slice(self.units, 2 * self.units)),
            level_outputs,
            quantize,
        )
        return output, [synaptic, potential, output]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedLeakyIntegratorCell(_QuantizedCell, LeakyIntegratorCell):
    """A ``LeakyIntegratorCell`` computed as its int8 TFLite Micro model computes it.

    The float cell is [`LeakyIntegratorCell`][keras_spiking_rnn.cells.LeakyIntegratorCell];
    [`QuantizedLeakyReadout`][keras_spiking_rnn.quantization.layers.QuantizedLeakyReadout] makes it.

    Args:
        *args: the positional arguments of ``LeakyIntegratorCell`` (``units``, ...).
        per_channel: one weight scale per output neuron instead of one per matrix.
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        input_range: the ``(min, max)`` range of the inputs when the layer below fixes it (spikes:
            ``(0, 1)``); None: the inputs are the model's, rounded to a range the cell learns.
        **kwargs: the keyword arguments of ``LeakyIntegratorCell``.

    Raises:
        ValueError: ``range_decay`` not a number in [0, 1), or an invalid argument of ``LeakyIntegratorCell``.

    Examples:
        >>> type(QuantizedLeakyReadout(4).cell).__name__
        'QuantizedLeakyIntegratorCell'
    """

    state_sites = ("potential",)

    def quantized_sites(self):
        return arithmetic.READOUT_SITES

    def quantized_step(self, inputs, states, quantize):
        (potential,) = states
        alpha = decay(self.dt, self.tau_m, self.compute_dtype)
        potential = arithmetic.readout_step(
            inputs, potential, self.synapse(quantize, 1.0 - alpha), quantize.constant(alpha), quantize
        )
        return potential, [potential]


class _TracksRanges:
    """Mixin for an RNN layer with a quantized cell: after the time loop, folds the extremes the cell
    collected into the cell's ranges (in training, or while ``quantize_model`` calibrates)."""

    calibrating = False

    def inner_loop(self, sequences, initial_state, mask, training=False):
        last_output, outputs, states = super().inner_loop(sequences, initial_state, mask, training=training)
        if training or self.calibrating:
            sites = self.cell.site_ranges.sites
            extremes = tf.reshape(states[-1], (-1, len(sites), 2))
            self.cell.site_ranges.update(
                tf.reduce_min(extremes[..., 0], axis=0), tf.reduce_max(extremes[..., 1], axis=0)
            )
        return last_output, outputs, states

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        return self.cell.learned_ranges()


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedSpikingRNN(_TracksRanges, SpikingRNN):
    """A [`SpikingRNN`][keras_spiking_rnn.SpikingRNN] whose cell is quantization-aware.

    The cell has one more state than the float cell (the range extremes); with ``return_state`` it is
    returned last. In training (and while calibrating) the layer folds the extremes the cell saw over
    the sequence into the cell's ranges after the time loop.

    Args:
        units: number of neurons; may be omitted, as ``neuron`` is a cell object.
        neuron: a quantization-aware cell, e.g.
            [`QuantizedALIFCell`][keras_spiking_rnn.quantization.layers.QuantizedALIFCell].
        return_sequences: as in ``SpikingRNN``.
        return_state: as in ``SpikingRNN``.
        go_backwards: as in ``SpikingRNN`` (the int8 export cannot run backwards).
        stateful: as in ``SpikingRNN``.
        unroll: as in ``SpikingRNN``.
        zero_output_for_mask: as in ``SpikingRNN``.
        bptt: as in ``SpikingRNN``; the quantization-aware cells always run Keras's own loop.
        jit_compile: as in ``SpikingRNN``.
        firing_rate_regularizer: as in ``SpikingRNN``.
        **kwargs: Keras layer arguments (``name``, ``dtype``, ``trainable``).

    Raises:
        ValueError: as in ``SpikingRNN``.
        TypeError: as in ``SpikingRNN``, e.g. cell arguments given with the cell object.

    Examples:
        >>> layer = QuantizedSpikingRNN(neuron=QuantizedLIFCell(8), return_sequences=True)
        >>> layer(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 20, 8])
    """


def _running_mean(layer, values, factor, ranges: SiteRanges, training, values_scale=None) -> tf.Tensor:
    """``sum_t factor * values_t``, each product and partial sum rounded as the int8 model rounds them.

    values: (batch, timesteps, units), on the int8 grid of step ``values_scale`` if given (then the
    products are requantized as TFLM's MUL does). Returns the final sum, (batch, units).
    """
    observed: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}
    quantize = ranges.quantizer(observed)
    operation = None
    if values_scale is not None:
        operation = ("mul", quantize.constant(factor), quantize.register(values, values_scale))
    scaled = quantize("scaled", factor * values, operation)
    plain = ranges.quantizer()

    def step(total, value):
        return plain("mean", total + value)

    values = tf.transpose(scaled, (1, 0, 2))  # time first
    totals = tf.scan(step, values, initializer=tf.zeros_like(values[0]))
    if training or layer.calibrating:
        unrounded = tf.concat([tf.zeros_like(totals[:1]), totals[:-1]], axis=0) + values
        observed["mean"] = (tf.reduce_min(unrounded), tf.reduce_max(unrounded))
        ranges.update_from(observed)
    return totals[-1]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedLeakyReadout(_TracksRanges, LeakyReadout):
    """A [`LeakyReadout`][keras_spiking_rnn.LeakyReadout] with a quantization-aware cell.

    ``"mean"`` is a running sum of ``u_t / T`` rounded at every step, as on the microcontroller (export
    with the same ``T``). Masks are not supported.

    Args:
        units: number of output neurons (classes).
        output_mode: ``"last"``, ``"mean"`` or ``"sequence"``, as in ``LeakyReadout``.
        stateful: as in ``LeakyReadout``.
        go_backwards: as in ``LeakyReadout`` (the int8 export cannot run backwards).
        bptt: as in ``LeakyReadout``; the quantization-aware cell always runs Keras's own loop.
        jit_compile: as in ``LeakyReadout``.
        **kwargs: Keras layer arguments and the arguments of
            [`QuantizedLeakyIntegratorCell`][keras_spiking_rnn.quantization.layers.QuantizedLeakyIntegratorCell]
            (``per_channel``, ``range_decay``, ``input_range``, ``tau_m_initializer``, ...).

    Raises:
        ValueError: as in ``LeakyReadout``, a ``range_decay`` outside [0, 1), or (when called) a mask.

    Examples:
        >>> readout = QuantizedLeakyReadout(4, output_mode="mean")
        >>> readout(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 4])
    """

    cell_class = QuantizedLeakyIntegratorCell

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        self.mean_ranges = SiteRanges(self, arithmetic.MEAN_SITES, {}, self.cell.range_decay)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if mask is not None:
            raise ValueError(f"{type(self).__name__} '{self.name}': quantization-aware readouts do not take masks.")
        outputs = keras.layers.RNN.call(self, sequences, initial_state=initial_state, training=training)
        if self.output_mode != "mean":
            return outputs
        length = tf.cast(tf.shape(sequences)[1], outputs.dtype)
        scale = range_scale(*self.cell.site_ranges.range_of("potential"))
        return _running_mean(self, outputs, 1.0 / length, self.mean_ranges, training, scale)

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        ranges = self.cell.learned_ranges()
        if self.output_mode == "mean":
            ranges.update(self.mean_ranges.learned())
        return ranges


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedSpikeCountReadout(SpikeCountReadout):
    """A [`SpikeCountReadout`][keras_spiking_rnn.SpikeCountReadout] whose running count is rounded at every step.

    Args:
        reduction: ``"sum"`` or ``"mean"``, as in ``SpikeCountReadout``.
        **kwargs: Keras layer arguments.

    Raises:
        ValueError: as in ``SpikeCountReadout``, or (when called) a mask.

    Examples:
        >>> QuantizedSpikeCountReadout()(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 3])
    """

    calibrating = False

    def build(self, input_shape):
        super().build(input_shape)
        self.mean_ranges = SiteRanges(self, arithmetic.MEAN_SITES, {}, RANGE_DECAY)

    def call(self, inputs, mask=None, training=False):
        if mask is not None:
            raise ValueError(f"{type(self).__name__} '{self.name}': quantization-aware readouts do not take masks.")
        factor = 1.0 if self.reduction == "sum" else 1.0 / tf.cast(tf.shape(inputs)[1], inputs.dtype)
        return _running_mean(self, inputs, factor, self.mean_ranges, training)

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        return self.mean_ranges.learned()


_FIXED_OUTPUT = {
    "sigmoid": arithmetic.SIGMOID_RANGE,
    "softmax": arithmetic.SIGMOID_RANGE,
    "tanh": arithmetic.TANH_RANGE,
}


def activation_name(layer) -> str:
    name = keras.activations.serialize(layer.activation)
    return name if isinstance(name, str) else name.get("config", {}).get("name", str(name))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedDense(keras.layers.Dense):
    """A ``Dense`` layer as TFLite's int8 FULLY_CONNECTED computes it.

    Weights are symmetric int8; the output is rounded to a tracked range (sigmoid, softmax and tanh
    outputs to TFLite's fixed grids).

    Args:
        *args: the positional arguments of ``keras.layers.Dense`` (``units``, ...).
        per_channel: one weight scale per output neuron instead of one per matrix.
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        **kwargs: the keyword arguments of ``keras.layers.Dense`` (``activation``, ...).

    Raises:
        ValueError: ``range_decay`` not a number in [0, 1).

    Examples:
        >>> QuantizedDense(4, activation="sigmoid")(np.ones((2, 3), "float32")).shape
        TensorShape([2, 4])
    """

    calibrating = False

    def __init__(self, *args: Any, per_channel: bool = False, range_decay: float = RANGE_DECAY, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.per_channel = bool(per_channel)
        self.range_decay = _check_decay(range_decay)

    def build(self, input_shape):
        super().build(input_shape)
        name = activation_name(self)
        fixed = {"output": _FIXED_OUTPUT[name]} if name in _FIXED_OUTPUT else {}
        self.site_ranges = SiteRanges(self, ("preactivation", "output"), fixed, self.range_decay)

    def call(self, inputs, training=False):
        observed: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}
        quantize = self.site_ranges.quantizer(observed)
        y = tf.matmul(inputs, quantize_weights(self.kernel, self.per_channel))
        if self.bias is not None:
            y = y + self.bias
        name = activation_name(self)
        if name == "linear":
            y = quantize("output", y)
        elif name == "relu":
            y = quantize("output", tf.nn.relu(y))
        else:
            y = quantize("output", self.activation(quantize("preactivation", y)))
        if training or self.calibrating:
            self.site_ranges.update_from(observed)
        return y

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        return self.site_ranges.learned()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "per_channel": self.per_channel, "range_decay": self.range_decay}
