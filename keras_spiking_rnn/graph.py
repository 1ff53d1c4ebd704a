"""Walking a model's layers: the one list of layers that do nothing at inference, and the two walks.

* :func:`linear_layers`: the layers of a linear stack, in order (the export and quantization-aware
  training handle linear stacks only).
* :func:`trace_layers`: every layer's input and output and which layer fed it (the analyses).

Both quantization-aware training and the export sit above this module, and the analyses beside them.
"""

from __future__ import annotations

from keras_spiking_rnn._keras import keras

INFERENCE_NO_OPS: tuple[type, ...] = (
    keras.layers.Dropout,  # SpatialDropout1D and the like derive from it
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
)
"""Layers that compute the identity at inference: the export skips them, QAT copies them, the analyses count
them as free."""


class UnsupportedLayerError(ValueError):
    """A layer of the model has no streaming int8 form.

    Raised for layers other than those the export supports, a model that is not a linear stack, or a
    layer that runs backwards in time.

    Examples:
        >>> try:
        ...     StreamingModel(keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4)]), sequence_length=10)
        ... except UnsupportedLayerError as error:
        ...     print(error)
        Layer 'lstm' (LSTM) has no streaming int8 TFLite Micro form. Supported: ...
    """


def is_inference_no_op(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` computes the identity at inference (one of :data:`INFERENCE_NO_OPS`)."""
    return isinstance(layer, INFERENCE_NO_OPS)


def _source(tensor):
    """The layer that produced a symbolic Keras tensor (Keras 3 names it ``operation``, tf-keras ``layer``)."""
    history = tensor._keras_history
    return getattr(history, "operation", None) or history.layer


def linear_layers(model: keras.Model, user: str = "the streaming export", argument: str = "model") -> list:
    """The model's layers in order (without its InputLayer), checking that each feeds only the next.

    Args:
        model: a built Keras model.
        user: who needs the stack, for the error messages.
        argument: the model's argument name, for the error messages.

    Returns:
        The layers, in order.

    Raises:
        TypeError: ``model`` not a Keras model.
        ValueError: ``model`` not built with a known input.
        UnsupportedLayerError: not one input and one output, or not a linear stack.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`{argument}` must be a keras.Model, got {type(model).__name__}.")
    if not model.built or not model.inputs:
        raise ValueError(
            f"`{argument}` must be built with a known input (e.g. start it with keras.Input((None, features)))."
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedLayerError(
            f"`{argument}` has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            f"{user} takes one input sequence and one output."
        )
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        return layers
    previous = _source(model.inputs[0])
    for layer in layers:
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        sources = [_source(tensor) for tensor in inputs]
        if sources != [previous]:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} does not take exactly the previous layer's output: "
                f"{user} handles linear stacks of layers only."
            )
        previous = layer
    return layers


def first_output(tensor):
    """A layer's main output (with ``return_state`` a layer returns a list)."""
    return tensor[0] if isinstance(tensor, (list, tuple)) else tensor


def trace_layers(model: keras.Model, features: int, owner: str) -> tuple[list, keras.Model, dict]:
    """The model's layers (without its InputLayer), a model returning every layer's input and output in that
    order, and ``{layer name: the layer that produced its input, or None for the model's input}``.

    A ``Sequential`` model is chained afresh from a new input (a loaded one has several call nodes per
    layer, which ``layer.input`` does not tell apart); a functional model is read from its graph.

    Raises:
        ValueError: (naming ``owner``) a functional model whose layers cannot be traced from its input.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    producers = {}
    if isinstance(model, keras.Sequential):
        source = keras.Input((None, features))
        tensors, previous, value = [], None, source
        for layer in layers:
            producers[layer.name] = previous
            tensors.append(value)
            value = first_output(layer(value))
            tensors.append(value)
            previous = layer
        return layers, keras.Model(source, tensors), producers
    made_by = {id(first_output(layer.output)): layer for layer in layers}
    for layer in layers:
        producers[layer.name] = made_by.get(id(layer.input))
    tensors = [first_output(t) for layer in layers for t in (layer.input, layer.output)]
    try:
        return layers, keras.Model(model.inputs, tensors), producers
    except ValueError as error:
        raise ValueError(
            f"{owner}: cannot trace the layers of model {model.name!r} from its input; a layer called in "
            "several models is traced at its first call. Use a model whose layers are called once."
        ) from error
