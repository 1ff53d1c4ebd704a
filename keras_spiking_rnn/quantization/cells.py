"""Quantization-aware twins of neuron cells, made for any neuron with an int8 form.

[`quantization_aware`][keras_spiking_rnn.quantization.cells.quantization_aware] turns a neuron class
into its quantization-aware twin, ``Quantized<Name>``: the same cell, whose step is the neuron's own
``int8_step`` run with fake quantization (:class:`TrainingOps`), so that training computes what the int8
TFLite Micro model will. No neuron has twin code of its own: the twin asks the neuron (its
``int8_parameters``, ``int8_sites``, ``int8_step``) through the protocol of
``keras_spiking_rnn.cells.neuron``.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import decay
from keras_spiking_rnn.cells.neuron import missing_int8_form
from keras_spiking_rnn.int8.arithmetic import Int8Ops, Synapse
from keras_spiking_rnn.int8.rounding import quantize_bias, range_scale, weight_scale
from keras_spiking_rnn.quantization.fake_quant import Quantizer, SiteRanges

_PACKAGE = "keras_spiking_rnn"
RANGE_DECAY = 0.99  # per batch; 0.99 follows a fine-tuning run of a few hundred batches
_TWINS: dict[type, type] = {}


def check_range_decay(range_decay: float) -> float:
    """``range_decay`` as a float, or a ValueError unless it is a number in [0, 1)."""
    if isinstance(range_decay, bool) or not isinstance(range_decay, (int, float)) or not 0.0 <= range_decay < 1.0:
        raise ValueError(f"`range_decay` must be a number in [0, 1), got {range_decay!r}.")
    return float(range_decay)


class _TensorNumerics:
    """``int8_parameters``' arithmetic in training: TensorFlow, in the cell's compute dtype (differentiable)."""

    def __init__(self, cell):
        self.dtype = cell.compute_dtype

    def decay(self, dt, tau):
        return decay(dt, tau, self.dtype)

    def ones(self, n):
        return tf.ones((n,), self.dtype)


class TrainingOps(Int8Ops):
    """The [`Int8Ops`][keras_spiking_rnn.int8.arithmetic.Int8Ops] of quantization-aware training.

    Constants and weights are fake-quantized as the converter stores them, products are requantized as
    TFLM does (``Quantizer``), spikes and levels are TFLM's int8 comparisons forward and the neuron's
    surrogate backward.

    Args:
        cell: the quantization-aware cell.
        quantize: its ``Quantizer`` for this step.
        parameters: the cell's ``int8_parameters``.

    Examples:
        >>> cell = quantization_aware(ALIFCell)(4)  # TrainingOps serve each step of its int8_step
        >>> cell.build((None, 3))
    """

    def __init__(self, cell: keras.layers.Layer, quantize: Quantizer, parameters: dict[str, Any]):
        self.cell = cell
        self.quantize = quantize
        self.parameters = parameters

    def constant(self, value):
        return self.quantize.constant(value)

    def detached(self, tensor):
        return tf.stop_gradient(tensor)

    def synapse(self, columns: slice = slice(None)) -> Synapse:
        cell, quantize = self.cell, self.quantize
        scale = self.parameters["synapse_scale"][columns]
        kernel = cell.kernel[:, columns] * scale
        bias = None
        if cell.bias is not None:
            bias = quantize_bias(
                cell.bias[columns] * scale, cell.input_scale() * weight_scale(kernel, cell.per_channel)
            )
        kernel = quantize.weights(kernel, cell.per_channel)
        recurrent = None
        if getattr(cell, "recurrent_kernel", None) is not None:
            recurrent = quantize.weights(cell.recurrent_kernel[:, columns] * scale, cell.per_channel)
        return Synapse(kernel, bias, recurrent)

    def spike(self, margin):
        smooth = self.cell.surrogate(margin - 0.0)
        exact = tf.cast(self.quantize.positive(margin), smooth.dtype)
        return smooth + tf.stop_gradient(exact - smooth)

    def greater(self, a, b):
        return self.quantize.greater(a, b)

    def with_gradient(self, exact, smooth):
        smooth = smooth()
        return exact + (smooth - tf.stop_gradient(smooth))


class QuantizationAwareCell:
    """Mixin of the quantization-aware twins: the neuron's ``int8_step``, fake-quantized, as the cell's step.

    The twin has one more state than the neuron, last: (batch, 2 * tracked sites), the extremes each site saw
    during the sequence, from which the layer updates the ranges once per batch. Make twins with
    [`quantization_aware`][keras_spiking_rnn.quantization.cells.quantization_aware].

    Args:
        *args: the positional arguments of the neuron (``units``, ...).
        per_channel: one weight scale per output neuron instead of one per matrix.
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        input_range: the ``(min, max)`` range of the inputs when the layer below fixes it (spikes:
            ``(0, 1)``); None: the inputs are the model's, rounded to a range the cell learns.
        **kwargs: the keyword arguments of the neuron.

    Raises:
        ValueError: ``range_decay`` not a number in [0, 1), or an invalid argument of the neuron.

    Examples:
        >>> layer = QuantizedSpikingRNN(neuron=quantization_aware(LIFCell)(8), return_sequences=True)
        >>> layer(np.ones((2, 20, 3), "float32")).shape
        TensorShape([2, 20, 8])
    """

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
        self.range_decay = check_range_decay(range_decay)
        # The int8 range of the inputs when an upstream layer fixes it (spikes: [0, 1]); None: the inputs are
        # the model's, and this cell rounds them to a range it tracks (site "input").
        self.input_range = None if input_range is None else (float(input_range[0]), float(input_range[1]))
        tracked = [site for site in self.all_sites() if site not in self.int8_fixed_ranges()]
        self.state_size = list(self.state_size) + [2 * len(tracked)]

    def all_sites(self) -> tuple[str, ...]:
        """The model input's site (first layer only), then the neuron's ``int8_sites``."""
        return (("input",) if self.input_range is None else ()) + tuple(self.int8_sites())

    def input_scale(self):
        """The int8 step of this cell's inputs (the bias is stored in units of it times the weights')."""
        return range_scale(*(self.input_range or self.site_ranges.range_of("input")))

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.site_ranges = SiteRanges(self, self.all_sites(), self.int8_fixed_ranges(), self.range_decay)

    def get_initial_state(self, batch_size=None, **kwargs):
        states = list(super().get_initial_state(batch_size=batch_size, **kwargs))
        batch = tf.shape(states[0])[0]
        return states + [tf.zeros((batch, self.state_size[-1]), dtype=self.compute_dtype)]

    def call(self, inputs, states, training=None):
        *states, extremes = states
        observed: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}
        quantize = self.site_ranges.quantizer(observed, axis=-1)
        if self.input_range is None:
            inputs = quantize("input", inputs)
        else:
            quantize.register(inputs, self.input_scale())
        for state, site in zip(states, self.int8_state_sites):
            quantize.register(state, range_scale(*self.site_ranges.range_of(site)) if site else 1.0 / 255.0)
        parameters = self.int8_parameters(_TensorNumerics(self))
        new_states = list(self.int8_step(inputs, states, parameters, TrainingOps(self, quantize, parameters)))
        sites = self.site_ranges.sites
        previous = tf.reshape(extremes, (-1, len(sites), 2))
        merged = []
        for i, site in enumerate(sites):
            low, high = previous[:, i, 0], previous[:, i, 1]
            if site in observed:
                low, high = tf.minimum(low, observed[site][0]), tf.maximum(high, observed[site][1])
            merged.append(tf.stack([low, high], axis=-1))
        extremes = tf.reshape(tf.stack(merged, axis=1), (-1, 2 * len(sites)))
        return new_states[self.output_state], [*new_states, extremes]

    def learned_ranges(self) -> dict[str, tuple[float, float]]:
        """``{site: (min, max)}`` learned in training, for the export."""
        return self.site_ranges.learned()

    def get_config(self) -> dict[str, Any]:
        config = {"per_channel": self.per_channel, "range_decay": self.range_decay, "input_range": self.input_range}
        return {**super().get_config(), **config}


def quantization_aware(neuron_class: type) -> type:
    """The quantization-aware twin of a neuron class, ``Quantized<Name>``, made once and registered.

    The twin computes each step with the neuron's ``int8_step`` in fake quantization; it is registered with
    Keras serialization as ``keras_spiking_rnn>Quantized<Name>``, so saved QAT models reload.

    Args:
        neuron_class: a neuron class with an int8 form (``int8_step``, ``int8_parameters``, ``int8_sites``
            that serve its float equations, see ``keras_spiking_rnn.cells.neuron.implementation``).

    Returns:
        The twin class, a subclass of ``QuantizationAwareCell`` and of ``neuron_class``.

    Raises:
        TypeError: a class without an int8 form (the message names the class and the method to write).

    Examples:
        >>> quantization_aware(ALIFCell).__name__
        'QuantizedALIFCell'
        >>> quantization_aware(ALIFCell) is quantization_aware(ALIFCell)
        True
    """
    if neuron_class in _TWINS:
        return _TWINS[neuron_class]
    if issubclass(neuron_class, QuantizationAwareCell):
        return neuron_class
    reason = missing_int8_form(neuron_class) if isinstance(neuron_class, type) else None
    if not isinstance(neuron_class, type) or reason:
        raise TypeError(f"quantization_aware: {reason or f'{neuron_class!r} is not a neuron class'}.")
    name = f"Quantized{neuron_class.__name__}"
    doc = (
        f"A ``{neuron_class.__name__}`` computed as its int8 TFLite Micro model computes it: its ``int8_step``, "
        "fake-quantized.\n\n    See ``keras_spiking_rnn.quantization.cells.QuantizationAwareCell``."
    )
    twin = type(name, (QuantizationAwareCell, neuron_class), {"__doc__": doc, "__module__": __name__})
    twin = keras.saving.register_keras_serializable(package=_PACKAGE, name=name)(twin)
    _TWINS[neuron_class] = twin
    return twin
