"""Tracing a model's layers for the analyses: each layer's input and output, and which layer fed it."""

from __future__ import annotations

from keras_spiking_rnn._keras import keras


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
