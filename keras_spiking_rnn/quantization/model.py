"""``quantize_model``: a trained float model to its quantization-aware twin (Keras 3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_spiking_rnn._keras import LEGACY, keras
from keras_spiking_rnn.cells.neuron import missing_int8_form
from keras_spiking_rnn.graph import INFERENCE_NO_OPS, UnsupportedLayerError, linear_layers
from keras_spiking_rnn.layers import LeakyReadout, SpikeCountReadout, SpikingRNN
from keras_spiking_rnn.quantization.cells import RANGE_DECAY, quantization_aware
from keras_spiking_rnn.quantization.layers import (
    QuantizedDense,
    QuantizedLeakyReadout,
    QuantizedSpikeCountReadout,
    QuantizedSpikingRNN,
)

_QUANTIZED = (QuantizedSpikingRNN, QuantizedLeakyReadout, QuantizedSpikeCountReadout, QuantizedDense)


def is_quantized(model: keras.Model) -> bool:
    """Whether ``model`` was made by ``quantize_model``: whether it has quantization-aware layers.

    Args:
        model: a Keras model.

    Returns:
        True if any layer of ``model`` is a quantization-aware layer of
            [`keras_spiking_rnn.quantization.layers`][keras_spiking_rnn.quantization.layers].

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((20, 3)),
        ...     SpikingRNN(8, neuron="alif", return_sequences=True),
        ...     LeakyReadout(2, output_mode="mean"),
        ... ])
        >>> is_quantized(model), is_quantized(quantize_model(model))
        (False, True)
    """
    return any(isinstance(layer, _QUANTIZED) for layer in model.layers)


def _quantized_layer(
    layer: keras.layers.Layer, per_channel: bool, range_decay: float, input_range: tuple[float, float] | None
) -> keras.layers.Layer:
    options = {"per_channel": per_channel, "range_decay": range_decay, "input_range": input_range}
    if isinstance(layer, SpikingRNN):
        cell_class = quantization_aware(type(layer.cell))
        config = layer.get_config()
        cell_config = {k: v for k, v in layer.cell.get_config().items() if k not in ("name", "trainable")}
        config["neuron"] = cell_class(**cell_config, **options)
        return QuantizedSpikingRNN(**config)
    if isinstance(layer, LeakyReadout):
        return QuantizedLeakyReadout.from_config({**layer.get_config(), **options})
    if isinstance(layer, SpikeCountReadout):
        return QuantizedSpikeCountReadout.from_config(layer.get_config())
    if type(layer) is keras.layers.Dense:
        return QuantizedDense.from_config(
            {**layer.get_config(), "per_channel": per_channel, "range_decay": range_decay}
        )
    return type(layer).from_config(layer.get_config())  # Dropout and other inference no-ops


def _copy_weights(source: keras.layers.Layer, target: keras.layers.Layer) -> None:
    """Copies ``source``'s weights into ``target``'s (whose QAT ranges are extra weights)."""
    plain = [w for w in target.weights if w.name not in ("quantization_ranges", "quantization_ready")]
    if len(plain) != len(source.weights):
        raise RuntimeError(
            f"quantize_model: layer {source.name!r} has weights the QAT layer lacks."
        )  # pragma: no cover
    for old, new in zip(source.weights, plain):
        if old.name != new.name or tuple(old.shape) != tuple(new.shape):
            raise RuntimeError(f"quantize_model: cannot match weight {old.path} with {new.path}.")  # pragma: no cover
        new.assign(old)


def quantize_model(
    model: keras.Model,
    *,
    per_channel: bool = False,
    range_decay: float = RANGE_DECAY,
    calibration_data: np.ndarray | None = None,
    batch_size: int = 64,
) -> keras.Model:
    """The quantization-aware twin of a trained model, fake-quantized as the int8 TFLite Micro model computes.

    The twin has the same layers and weights. Every step is computed in the order and with the ops of
    the exported int8 model (``keras_spiking_rnn.quantization.arithmetic``): weights symmetric int8 (per
    matrix, or per output neuron with ``per_channel``), the decay factors and other constants int8 as the
    converter stores them, and the input, every intermediate activation and every state rounded to an int8
    grid whose range is a moving average of the batches' extremes over all timesteps. Gradients pass
    straight through the rounding (and through the spikes' surrogates, as in float training). Fine-tune
    with ``fit``; then
    [`export_tflite_micro`][keras_spiking_rnn.export.api.export_tflite_micro] writes the learned ranges
    into the int8 model, whose outputs then follow this model's closely.

    Until the ranges are first measured (the first training batch, or ``calibration_data``), the layers
    compute in float. The sequence length must be fixed for mean/count readouts (``keras.Input((T, f))``).

    Args:
        model: a trained Keras 3 model, a linear stack of ``SpikingRNN`` (of any neuron with an int8 form),
            ``LeakyReadout``, ``SpikeCountReadout``, ``Dense`` and inference no-ops (``Dropout`` ...).
        per_channel: one weight scale per output neuron; the export must use the same setting (it
            follows the model by default).
        range_decay: decay per batch of the ranges' moving averages, in [0, 1).
        calibration_data: optional float sequences (n, timesteps, features) run through the model once to
            set the ranges before training.
        batch_size: batch size of that calibration run.

    Returns:
        A new, uncompiled ``keras.Sequential`` (``model.name + "_qat"``); ``model`` is unchanged.

    Raises:
        ValueError: a layer QAT cannot handle (named), a model that is already quantization-aware or
            has no known input, or bad arguments.
        TypeError: ``model`` not a ``keras.Model``.
        RuntimeError: under ``TF_USE_LEGACY_KERAS=1`` (use ``keras_spiking_rnn.quantization.tfmot``).

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((20, 3)),
        ...     SpikingRNN(8, neuron="alif", return_sequences=True),
        ...     LeakyReadout(2, output_mode="mean"),
        ... ])
        >>> qat = quantize_model(model)
        >>> [type(layer).__name__ for layer in qat.layers]
        ['QuantizedSpikingRNN', 'QuantizedLeakyReadout']
        >>> qat.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ...             metrics=["accuracy"])
        >>> qat.fit(x_train, y_train, epochs=5)  # doctest: +SKIP
    """
    if LEGACY:
        raise RuntimeError(
            "quantize_model builds Keras 3 models; under TF_USE_LEGACY_KERAS=1 quantize with "
            "keras_spiking_rnn.quantization.tfmot.quantize_model (tensorflow-model-optimization)."
        )
    if not isinstance(model, keras.Model):
        raise TypeError(f"quantize_model: `model` must be a keras.Model, got {type(model).__name__}.")
    if is_quantized(model):
        raise ValueError(f"quantize_model: model {model.name!r} is already quantization-aware.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"quantize_model: `batch_size` must be a positive integer, got {batch_size!r}.")
    try:
        layers = linear_layers(model)
    except UnsupportedLayerError as error:
        raise ValueError(f"quantize_model: {error}") from error
    for layer in layers:
        if isinstance(layer, keras.layers.Bidirectional) or getattr(layer, "go_backwards", False):
            raise ValueError(
                f"quantize_model: layer {layer.name!r} runs backwards in time, which the int8 streaming model "
                "cannot; quantize a unidirectional model."
            )
        if isinstance(layer, keras.layers.Dense) and type(layer) is not keras.layers.Dense:
            raise ValueError(f"quantize_model: layer {layer.name!r} ({type(layer).__name__}) is not handled.")
        if not isinstance(layer, (SpikingRNN, LeakyReadout, SpikeCountReadout, keras.layers.Dense, *INFERENCE_NO_OPS)):
            raise ValueError(
                f"quantize_model: layer {layer.name!r} ({type(layer).__name__}) has no int8 form. Supported: "
                "SpikingRNN of a neuron with an int8 form, LeakyReadout, SpikeCountReadout, Dense, Dropout and "
                "other layers that do nothing at inference."
            )
        reason = missing_int8_form(layer.cell) if isinstance(layer, (SpikingRNN, LeakyReadout)) else None
        if reason:
            raise ValueError(f"quantize_model: layer {layer.name!r}: {reason}.")
    input_shape = tuple(model.inputs[0].shape[1:])
    quantized = []
    input_range = None  # the first layer rounds the model's input to a range it learns
    for layer in layers:
        quantized.append(_quantized_layer(layer, bool(per_channel), range_decay, input_range))
        if isinstance(layer, SpikingRNN):  # what the next layer receives, on a grid fixed by this one
            input_range = (0.0, layer.cell.output_levels * layer.cell.output_height)
        elif not isinstance(layer, keras.layers.Dropout):
            input_range = None
    qat = keras.Sequential([keras.Input(input_shape), *quantized], name=model.name + "_qat")
    for old, new in zip(layers, quantized):
        _copy_weights(old, new)
    if calibration_data is not None:
        calibrate(qat, calibration_data, batch_size)
    return qat


def calibrate(qat_model: keras.Model, sequences: Any, batch_size: int = 64) -> None:
    """Measures a quantization-aware model's ranges on ``sequences``, in inference mode (no dropout).

    Each batch of ``batch_size`` sequences runs through the model once and updates the ranges' moving
    averages once; ``quantize_model(..., calibration_data=...)`` calls it.

    Args:
        qat_model: a model made by [`quantize_model`][keras_spiking_rnn.quantization.model.quantize_model].
        sequences: finite float sequences, (n, timesteps, features).
        batch_size: sequences per batch.

    Raises:
        ValueError: ``sequences`` not a non-empty, finite (n, timesteps, features) array (the message
            calls it ``calibration_data``).

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((20, 3)),
        ...     SpikingRNN(8, neuron="alif", return_sequences=True),
        ...     LeakyReadout(2, output_mode="mean"),
        ... ])
        >>> qat = quantize_model(model)
        >>> calibrate(qat, np.random.default_rng(0).random((8, 20, 3), "float32"))
    """
    x = np.asarray(sequences, np.float32)
    if x.ndim != 3 or len(x) == 0 or not np.all(np.isfinite(x)):
        raise ValueError(
            f"`calibration_data` must be finite float sequences (n, timesteps, features); got shape {x.shape}."
        )
    layers = [layer for layer in qat_model.layers if isinstance(layer, _QUANTIZED)]
    for layer in layers:
        layer.calibrating = True
    try:
        for start in range(0, len(x), batch_size):
            qat_model(x[start : start + batch_size], training=False)
    finally:
        for layer in layers:
            layer.calibrating = False
