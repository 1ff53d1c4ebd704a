"""Quantization-aware training of tf-keras models with tensorflow-model-optimization (tfmot).

tfmot 0.8 quantizes tf-keras (Keras 2) models only, so this module needs
``TF_USE_LEGACY_KERAS=1`` (set before TensorFlow or this package is imported),
under which the package's layers are tf-keras layers. It gives tfmot a
``QuantizeConfig`` for each of the package's layers:

* ``SpikingRNN`` (and ``keras.layers.RNN`` of a LIF, ALIF or gated cell): the
  cell's ``kernel`` and ``recurrent_kernel`` as int8 weights (tfmot's
  ``LastValueQuantizer``: 8 bits, symmetric, narrow range, per tensor unless
  ``per_axis``). LIF and ALIF emit exactly 0 or 1, so their output is not
  fake-quantized; the gated cell's multi-level output is (``MovingAverageQuantizer``).
* ``LeakyReadout``: ``kernel`` as int8 weights and the float output.
* ``SpikeCountReadout``: the output only (it has no weights).

Biases stay float (int32 in the converted model), and so do the time
constants, which the exporter folds into the weights. Other layers (``Dense``,
``Dropout``, ...) get tfmot's default 8-bit configs.

Workflow::

    TF_USE_LEGACY_KERAS=1 python train.py

    import tf_keras
    from keras_spiking_rnn import LeakyReadout, SpikingRNN
    from keras_spiking_rnn.export import export_tflite_micro
    from keras_spiking_rnn.quantization.tfmot import quantize_model, strip_quantization

    model = tf_keras.Sequential([tf_keras.Input((None, 8)), SpikingRNN(64, return_sequences=True), LeakyReadout(10)])
    qat = quantize_model(model)                       # fake-quantized weights in the forward pass
    qat.compile("adam", tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(x, y, epochs=5)
    plain = strip_quantization(qat)                   # the library's layers, fake-quantized weights
    export_tflite_micro(plain, x[:256], "build/qat", validation_data=(x_test, y_test))

The exporter multiplies each output column of a LIF/ALIF/readout weight
matrix by ``1 - exp(-dt / tau_m)`` and splits the gated cell's matrices per
gate before the int8 conversion, and takes each scale from the largest
weight. So its grid is the QAT grid only with ``per_axis=True`` here and
``per_channel=True`` in ``export_tflite_micro``, and only where a column's
largest weight sits at the quantizer's stored range (the range is the one of
the last training step's weights); elsewhere it re-rounds the QAT weights onto
its own grid (at most half a step per weight). Not measured yet: how much
agreement that costs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from keras_spiking_rnn._keras import LEGACY

if not LEGACY:
    raise ImportError(
        "keras_spiking_rnn.quantization.tfmot works with tf-keras (Keras 2) models only, because "
        "tensorflow-model-optimization does: set TF_USE_LEGACY_KERAS=1 before importing TensorFlow or "
        "keras_spiking_rnn (`pip install tensorflow-model-optimization tf-keras`, or "
        "`pip install keras-spiking-rnn[tfmot]`). This process uses Keras 3."
    )

try:
    import tensorflow_model_optimization as tfmot
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_spiking_rnn.quantization.tfmot needs tensorflow-model-optimization: "
        "`pip install tensorflow-model-optimization tf-keras` (or `pip install keras-spiking-rnn[tfmot]`), "
        "with TF_USE_LEGACY_KERAS=1 set."
    ) from error

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_model_optimization.python.core.quantization.keras import quantize_annotate as _annotate  # noqa: E402
from tensorflow_model_optimization.python.core.quantization.keras import quantize_layer as _quantize_layer  # noqa: E402
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (  # noqa: E402
    default_8bit_quantize_registry,
)

from keras_spiking_rnn._keras import keras  # noqa: E402
from keras_spiking_rnn.cells.neuron import Neuron  # noqa: E402
from keras_spiking_rnn.graph import linear_layers  # noqa: E402
from keras_spiking_rnn.layers import SpikeCountReadout, custom_objects_by_name  # noqa: E402

__all__ = [
    "LeakyReadoutQuantizeConfig",
    "SpikeCountReadoutQuantizeConfig",
    "SpikingRNNQuantizeConfig",
    "quantize_annotate",
    "quantize_config_for",
    "quantize_model",
    "quantize_scope",
    "strip_quantization",
]

_PACKAGE = "keras_spiking_rnn"
_QuantizeConfig = tfmot.quantization.keras.QuantizeConfig
_quantizers = tfmot.quantization.keras.quantizers


def _weight_quantizer(per_axis: bool):
    """int8 weights: symmetric, narrow range ([-127, 127]), the range of the latest weights (tfmot's default)."""
    return _quantizers.LastValueQuantizer(num_bits=8, symmetric=True, narrow_range=True, per_axis=per_axis)


def _output_quantizer():
    """int8 activations: asymmetric, range from a moving average of the batch min/max (tfmot's default)."""
    return _quantizers.MovingAverageQuantizer(num_bits=8, symmetric=False, narrow_range=False, per_axis=False)


class _CellWeightsQuantizeConfig(_QuantizeConfig):
    """Fake-quantizes weights of an RNN layer's cell (``layer.cell``), as tfmot's ``_RNNHelper`` does for LSTM cells.

    ``QuantizeWrapper`` replaces the cell's weight attributes by their
    fake-quantized tensors before each call of the RNN layer; the RNN's time
    loop then reads them through ``cell.kernel`` etc.
    """

    weight_names: tuple[str, ...] = ("kernel",)

    def __init__(self, per_axis: bool = False, quantize_output: bool = False):
        self.per_axis = bool(per_axis)
        self.quantize_output = bool(quantize_output)
        self.weight_quantizer = _weight_quantizer(self.per_axis)

    def _names(self, layer) -> list[str]:
        return [name for name in self.weight_names if getattr(layer.cell, name, None) is not None]

    def get_weights_and_quantizers(self, layer) -> list[tuple[Any, Any]]:
        return [(getattr(layer.cell, name), self.weight_quantizer) for name in self._names(layer)]

    def set_quantize_weights(self, layer, quantize_weights) -> None:
        names = self._names(layer)
        if len(names) != len(quantize_weights):
            raise ValueError(
                f"{type(self).__name__}: layer {layer.name!r} has the weights {names} to quantize, "
                f"got {len(quantize_weights)} quantized tensors."
            )
        for name, weight in zip(names, quantize_weights):
            if tuple(getattr(layer.cell, name).shape) != tuple(weight.shape):
                raise ValueError(
                    f"{type(self).__name__}: layer {layer.name!r}: `{name}` has shape "
                    f"{tuple(getattr(layer.cell, name).shape)}, the quantized tensor {tuple(weight.shape)}."
                )
            setattr(layer.cell, name, weight)

    def get_activations_and_quantizers(self, layer) -> list:
        return []

    def set_quantize_activations(self, layer, quantize_activations) -> None:
        pass

    def get_output_quantizers(self, layer) -> list:
        return [_output_quantizer()] if self.quantize_output else []

    def get_config(self) -> dict[str, Any]:
        return {"per_axis": self.per_axis, "quantize_output": self.quantize_output}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.per_axis, self.quantize_output))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SpikingRNNQuantizeConfig(_CellWeightsQuantizeConfig):
    """tfmot ``QuantizeConfig`` of a ``SpikingRNN`` (or ``keras.layers.RNN``) of LIF, ALIF or gated cells.

    Weights: the cell's ``kernel`` (features, gates * units) and, if the cell
    is recurrent, ``recurrent_kernel`` (units, gates * units), as int8 weights
    (``LastValueQuantizer``: 8 bits, symmetric, narrow range). ``bias`` and the
    time constants stay float. Output: LIF and ALIF spikes are exactly 0/1 and
    are not fake-quantized; give ``quantize_output=True`` for the gated cell's
    multi-level outputs (``MovingAverageQuantizer``, 8 bits, asymmetric).

    Args:
        per_axis: one scale per output column of each matrix (per neuron and gate)
            instead of one per matrix.
        quantize_output: fake-quantize the layer's output.

    Example:
        >>> annotated = tfmot.quantization.keras.quantize_annotate_layer(
        ...     SpikingRNN(32, neuron="alif", return_sequences=True), SpikingRNNQuantizeConfig())
    """

    weight_names = ("kernel", "recurrent_kernel")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LeakyReadoutQuantizeConfig(_CellWeightsQuantizeConfig):
    """tfmot ``QuantizeConfig`` of a ``LeakyReadout``: ``kernel`` (features, units) as int8, and the output.

    The output (the logits, (batch, units) or (batch, timesteps, units)) is
    fake-quantized with a ``MovingAverageQuantizer`` (8 bits, asymmetric);
    ``bias`` and ``tau_m`` stay float.

    Args:
        per_axis: one weight scale per output neuron instead of one for the matrix.
        quantize_output: fake-quantize the output (default True).

    Example:
        >>> annotated = tfmot.quantization.keras.quantize_annotate_layer(
        ...     LeakyReadout(10, output_mode="mean"), LeakyReadoutQuantizeConfig())
    """

    def __init__(self, per_axis: bool = False, quantize_output: bool = True):
        super().__init__(per_axis=per_axis, quantize_output=quantize_output)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SpikeCountReadoutQuantizeConfig(_QuantizeConfig):
    """tfmot ``QuantizeConfig`` of a ``SpikeCountReadout``: no weights; the output (batch, units) is fake-quantized.

    Example:
        >>> annotated = tfmot.quantization.keras.quantize_annotate_layer(
        ...     SpikeCountReadout(), SpikeCountReadoutQuantizeConfig())
    """

    def get_weights_and_quantizers(self, layer) -> list:
        return []

    def set_quantize_weights(self, layer, quantize_weights) -> None:
        pass

    def get_activations_and_quantizers(self, layer) -> list:
        return []

    def set_quantize_activations(self, layer, quantize_activations) -> None:
        pass

    def get_output_quantizers(self, layer) -> list:
        return [_output_quantizer()]

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpikeCountReadoutQuantizeConfig:
        return cls(**config)

    def __eq__(self, other) -> bool:
        return type(other) is type(self)

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(type(self).__name__)


_CONFIGS = (SpikingRNNQuantizeConfig, LeakyReadoutQuantizeConfig, SpikeCountReadoutQuantizeConfig)


def _custom_objects() -> dict[str, Any]:
    objects = dict(custom_objects_by_name())
    objects.update({cls.__name__: cls for cls in _CONFIGS})
    objects.update({f"{_PACKAGE}>{cls.__name__}": cls for cls in _CONFIGS})
    return objects


def quantize_scope(*custom_objects: dict[str, Any]) -> contextlib.AbstractContextManager:
    """``tfmot.quantization.keras.quantize_scope`` with the package's layers, cells, surrogates and configs.

    Load (``tf_keras.models.load_model``), clone or ``quantize_apply`` a model
    holding the package's layers inside it.

    Args:
        *custom_objects: more ``{name: class}`` dicts to add to the scope.

    Returns:
        A context manager (tf-keras's ``CustomObjectScope``).

    Example:
        >>> with quantize_scope():
        ...     qat = tf_keras.models.load_model("qat.keras")
    """
    return tfmot.quantization.keras.quantize_scope(_custom_objects(), *custom_objects)


def quantize_config_for(layer: keras.layers.Layer, per_axis: bool = False) -> _QuantizeConfig | None:
    """The ``QuantizeConfig`` of one of the package's layers, or None for any other layer.

    Args:
        layer: a tf-keras layer.
        per_axis: one weight scale per output column instead of one per matrix.

    Returns:
        ``SpikingRNNQuantizeConfig`` for a ``keras.layers.RNN`` (``SpikingRNN`` included) of a spiking neuron
        (output quantized for multi-level outputs only), ``LeakyReadoutQuantizeConfig`` for
        ``LeakyReadout`` or an RNN of a non-spiking neuron, ``SpikeCountReadoutQuantizeConfig`` for
        ``SpikeCountReadout``; None otherwise.

    Raises:
        ValueError: a layer whose fake-quantized output would be a list (``return_state=True`` with an output
            quantizer), which tfmot's ``QuantizeWrapper`` cannot handle.
    """
    if isinstance(layer, SpikeCountReadout):
        return SpikeCountReadoutQuantizeConfig()
    if not isinstance(layer, keras.layers.RNN):
        return None
    cell = layer.cell
    if not isinstance(cell, Neuron):
        return None
    if cell.emits_spikes:  # 0/1 spikes are exact in int8; multi-level outputs are not
        config = SpikingRNNQuantizeConfig(per_axis=per_axis, quantize_output=cell.output_levels > 1)
    else:
        config = LeakyReadoutQuantizeConfig(per_axis=per_axis)
    if config.quantize_output and getattr(layer, "return_state", False):
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}, cell {type(cell).__name__}) has return_state=True: "
            "tfmot's QuantizeWrapper fake-quantizes a single output tensor only. Use return_state=False for QAT."
        )
    return config


def _check_model(model: Any, argument: str) -> None:
    if not isinstance(model, keras.Model):
        hint = ""
        if type(model).__module__.split(".")[0] == "keras":
            hint = (
                " It is a Keras 3 model: tfmot needs tf-keras, so build it with TF_USE_LEGACY_KERAS=1 set "
                "(then keras_spiking_rnn's layers and tf.keras are tf-keras)."
            )
        raise TypeError(f"`{argument}` must be a tf-keras Sequential or Functional model, got {type(model)!r}.{hint}")
    if not isinstance(model, keras.Sequential) and not getattr(model, "_is_graph_network", False):
        raise ValueError(
            f"`{argument}` must be a tf-keras Sequential or Functional model; {model.name!r} is a subclassed "
            f"{type(model).__name__}, which tfmot cannot clone."
        )
    if not model.built or not model.inputs:
        raise ValueError(
            f"`{argument}` must be built with a known input: start it with tf_keras.Input((None, features))."
        )


def quantize_annotate(model: keras.Model, per_axis: bool = False) -> keras.Model:
    """Annotates every layer of ``model`` for tfmot: the package's layers with their configs, others by default.

    The package's layers get :func:`quantize_config_for`'s config; layers
    that tfmot's default 8-bit registry knows (``Dense``, ``Dropout``, ...)
    are annotated without a config, so ``quantize_apply`` gives them tfmot's
    defaults. Layers already wrapped in ``quantize_annotate_layer`` keep their
    annotation. Like tfmot's ``quantize_annotate_model``, the annotated model
    wraps the same layer objects (and weights) as ``model``.

    Args:
        model: a built tf-keras Sequential or Functional model, input (batch, timesteps, features).
        per_axis: one weight scale per output column (neuron and gate) instead of one per matrix.

    Returns:
        The annotated tf-keras model, for ``tfmot.quantization.keras.quantize_apply`` (inside
        :func:`quantize_scope`).

    Raises:
        TypeError: ``model`` is not a tf-keras model (e.g. a Keras 3 one).
        ValueError: ``model`` is subclassed or not built, or a layer has no config and tfmot has no default
            for it (the error names the layer), or a nested model.

    Example:
        >>> annotated = quantize_annotate(model)
        >>> with quantize_scope():
        ...     qat = tfmot.quantization.keras.quantize_apply(annotated)
    """
    _check_model(model, "model")
    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    annotate_layer = tfmot.quantization.keras.quantize_annotate_layer

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, _annotate.QuantizeAnnotate):
            return layer
        if isinstance(layer, keras.Model):
            raise ValueError(f"`model`: layer {layer.name!r} is a nested model; tfmot cannot quantize nested models.")
        config = quantize_config_for(layer, per_axis=per_axis)
        if config is not None:
            return annotate_layer(layer, config)
        if isinstance(layer, keras.layers.Wrapper) and isinstance(getattr(layer, "layer", None), keras.layers.RNN):
            raise ValueError(
                f"`model`: layer {layer.name!r} ({type(layer).__name__} around {type(layer.layer).__name__}) cannot "
                "be quantized by tfmot: its QuantizeWrapper cannot reach the weights of a wrapped RNN. Use "
                "unidirectional SpikingRNN layers."
            )
        if not registry.supports(layer):
            raise ValueError(
                f"`model`: tfmot has no default QuantizeConfig for layer {layer.name!r} ({type(layer).__name__}). "
                "Wrap it in tfmot.quantization.keras.quantize_annotate_layer(layer, quantize_config) with a "
                "QuantizeConfig of your own, or remove it."
            )
        return annotate_layer(layer)

    with quantize_scope():
        return keras.models.clone_model(model, clone_function=annotate)


def quantize_model(model: keras.Model, per_axis: bool = False) -> keras.Model:
    """A quantization-aware copy of ``model``: :func:`quantize_annotate`, then tfmot's ``quantize_apply``.

    The returned model fake-quantizes its input (tfmot's ``QuantizeLayer``),
    the weights of every layer and the outputs described in the configs, in
    training and inference alike; train it with ``compile``/``fit`` (the
    optimizer is not copied). It starts from ``model``'s weights and does not
    change them. Load it back inside :func:`quantize_scope`.

    Args:
        model: a built tf-keras Sequential or Functional model of the package's layers and layers tfmot
            supports, input (batch, timesteps, features).
        per_axis: one weight scale per output column (neuron and gate) instead of one per matrix; pair it with
            ``export_tflite_micro(..., per_channel=True)``.

    Returns:
        A tf-keras Functional model of tfmot ``QuantizeWrapperV2`` layers, same inputs and outputs as ``model``.

    Raises:
        TypeError, ValueError: as :func:`quantize_annotate`.

    Example:
        >>> qat = quantize_model(model)
        >>> qat.compile("adam", tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> qat.fit(x, y, epochs=5)
    """
    annotated = quantize_annotate(model, per_axis=per_axis)
    with quantize_scope():
        return tfmot.quantization.keras.quantize_apply(annotated)


def _short_name(variable) -> str:
    """``"spiking_rnn/alif_cell/kernel:0"`` -> ``"kernel"`` (unique within one of the layers handled here)."""
    return variable.name.split(":")[0].split("/")[-1]


def _layer_weights(layer) -> dict[str, np.ndarray]:
    """A layer's weights by short name; for a QuantizeWrapper, the inner layer's, fake-quantized as in inference.

    tfmot's wrapper replaces each quantized weight attribute by a tensor, and
    tf-keras then drops that variable from the inner layer's ``weights``; the
    wrapper keeps it in ``_weight_vars`` with its quantizer and range.
    """
    values = {}
    inner = getattr(layer, "layer", layer)
    for weight in inner.weights:
        values[_short_name(weight)] = np.asarray(weight.numpy())
    for weight, quantizer, quantizer_vars in getattr(layer, "_weight_vars", []):
        value = quantizer(tf.convert_to_tensor(weight), False, weights=quantizer_vars)
        values[_short_name(weight)] = np.asarray(value)
    return values


def strip_quantization(qat_model: keras.Model) -> keras.Model:
    """A plain tf-keras ``Sequential`` model of ``qat_model``'s layers with the fake-quantized weights baked in.

    Every weight that ``qat_model`` fake-quantizes (kernels, recurrent
    kernels, Dense kernels) is replaced by its fake-quantized value, computed
    with the quantizer's stored range as in ``qat_model``'s inference, so each
    such tensor takes at most 255 distinct values (per column with
    ``per_axis``); biases and time constants are copied unchanged. tfmot's
    input ``QuantizeLayer`` and the output quantizers are dropped (the
    exporter calibrates activations itself). The result is what
    ``keras_spiking_rnn.export.export_tflite_micro`` accepts.

    Args:
        qat_model: a model from :func:`quantize_model` (or tfmot's ``quantize_apply``) that is a linear stack
            (input (batch, timesteps, features), one output).

    Returns:
        A tf-keras ``Sequential`` model with the same input shape and the unwrapped layers (new objects).

    Raises:
        TypeError: ``qat_model`` is not a tf-keras model.
        ValueError: it is not built, not a linear stack, or holds no ``QuantizeWrapper``.

    Example:
        >>> plain = strip_quantization(qat)
        >>> export_tflite_micro(plain, x_train[:256], "build/qat", validation_data=(x_test, y_test))
    """
    _check_model(qat_model, "qat_model")
    wrapper_type = tfmot.quantization.keras.QuantizeWrapper  # QuantizeWrapperV2 included
    quantize_layer_type = _quantize_layer.QuantizeLayer
    layers = linear_layers(qat_model, user="strip_quantization", argument="qat_model")
    if not any(isinstance(layer, wrapper_type) for layer in layers):
        raise ValueError(
            f"`qat_model` {qat_model.name!r} has no tfmot QuantizeWrapper: it is not quantization-aware "
            "(make it with quantize_model)."
        )
    stripped, weights = [], []
    with quantize_scope():
        for layer in layers:
            if isinstance(layer, quantize_layer_type):
                continue
            inner = layer.layer if isinstance(layer, wrapper_type) else layer
            stripped.append(type(inner).from_config(inner.get_config()))
            weights.append(_layer_weights(layer))
        shape = tuple(qat_model.inputs[0].shape[1:])
        model = keras.Sequential([keras.Input(shape), *stripped], name=f"{qat_model.name}_stripped")
    for layer, values in zip(stripped, weights):
        names = [_short_name(weight) for weight in layer.weights]
        missing = sorted(set(names) - set(values))
        if missing or len(set(names)) != len(names):
            raise ValueError(
                f"`qat_model`: cannot match the weights of layer {layer.name!r} by name (it has {names}, the "
                f"quantization-aware layer {sorted(values)})."
            )
        layer.set_weights([values[name] for name in names])
    return model
