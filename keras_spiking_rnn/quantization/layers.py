"""Quantization-aware versions of the library's layers (Keras 3).

Each computes a step with its neurons' ``int8_step`` (through the twins of
``keras_spiking_rnn.quantization.cells``), the op sequence of the int8 TFLite
Micro model, with every weight, constant,
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
from keras_spiking_rnn.cells.neuron import missing_int8_form, registered_neurons
from keras_spiking_rnn.int8.arithmetic import MEAN_SITES, SIGMOID_RANGE, TANH_RANGE
from keras_spiking_rnn.int8.rounding import quantize_weights, range_scale
from keras_spiking_rnn.layers import LeakyReadout, SpikeCountReadout, SpikingRNN
from keras_spiking_rnn.quantization.cells import RANGE_DECAY, check_range_decay, quantization_aware
from keras_spiking_rnn.quantization.fake_quant import SiteRanges

_PACKAGE = "keras_spiking_rnn"


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
            ``quantization_aware(ALIFCell)(units)`` (see
            [`quantization_aware`][keras_spiking_rnn.quantization.cells.quantization_aware]).
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
        >>> layer = QuantizedSpikingRNN(neuron=quantization_aware(LIFCell)(8), return_sequences=True)
        >>> layer(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 20, 8])
    """

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> QuantizedSpikingRNN:
        for neuron in registered_neurons().values():  # the twins of neurons registered since import
            if missing_int8_form(neuron) is None:
                quantization_aware(neuron)
        return super().from_config(config, custom_objects=custom_objects)


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
            the quantization-aware twin of its neuron
            ([`QuantizationAwareCell`][keras_spiking_rnn.quantization.cells.QuantizationAwareCell])
            (``per_channel``, ``range_decay``, ``input_range``, ``tau_m_initializer``, ...).

    Raises:
        ValueError: as in ``LeakyReadout``, a ``range_decay`` outside [0, 1), or (when called) a mask.

    Examples:
        >>> readout = QuantizedLeakyReadout(4, output_mode="mean")
        >>> readout(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 4])
    """

    @property
    def cell_class(self) -> type:
        """The quantization-aware twin of the float readout's neuron."""
        return quantization_aware(LeakyReadout.cell_class.fget(self))

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        self.mean_ranges = SiteRanges(self, MEAN_SITES, {}, self.cell.range_decay)

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
        self.mean_ranges = SiteRanges(self, MEAN_SITES, {}, RANGE_DECAY)

    def call(self, inputs, mask=None, training=False):
        if mask is not None:
            raise ValueError(f"{type(self).__name__} '{self.name}': quantization-aware readouts do not take masks.")
        factor = 1.0 if self.reduction == "sum" else 1.0 / tf.cast(tf.shape(inputs)[1], inputs.dtype)
        return _running_mean(self, inputs, factor, self.mean_ranges, training)

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        return self.mean_ranges.learned()


_FIXED_OUTPUT = {
    "sigmoid": SIGMOID_RANGE,
    "softmax": SIGMOID_RANGE,
    "tanh": TANH_RANGE,
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
        self.range_decay = check_range_decay(range_decay)

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
