"""Recording what a spiking layer does: its states over time, and how accuracy grows with the steps seen.

[`record_states`][keras_spiking_rnn.analysis.recording.record_states] runs a model up to one spiking
layer and steps that layer's cell over the sequence, keeping every state after
every step (the layer itself returns at most the last states).
[`accuracy_over_time`][keras_spiking_rnn.analysis.recording.accuracy_over_time] measures any-time
decisions: the accuracy of a model that has seen only the
first ``t`` steps of each sequence (Yin et al. 2021, Fig. 4e-i).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np
import tensorflow as tf

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells import SpikingCell
from keras_spiking_rnn.cells.neuron import implementation
from keras_spiking_rnn.graph import trace_layers

__all__ = ["accuracy_over_time", "record_states", "spiking_layers"]


def spiking_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The spiking recurrent layers of ``model``: RNN layers whose cell is a spiking cell, in model order.

    Args:
        model: a Keras model.

    Returns:
        The ``keras.layers.RNN`` layers ([`SpikingRNN`][keras_spiking_rnn.SpikingRNN] and subclasses, or
            a plain ``keras.layers.RNN`` around a spiking cell) among ``model.layers``; nested models are
            not searched.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 3)),
        ...     SpikingRNN(5, neuron="lif", return_sequences=True, name="lif"),
        ...     LeakyReadout(2),
        ... ])
        >>> [layer.name for layer in spiking_layers(model)]  # the readout's cell does not spike
        ['lif']
    """
    return [layer for layer in model.layers if _is_spiking(layer)]


def _is_spiking(layer) -> bool:
    return isinstance(layer, keras.layers.RNN) and isinstance(getattr(layer, "cell", None), SpikingCell)


def _resolve_layer(model: keras.Model, layer: Union[str, keras.layers.Layer]) -> keras.layers.Layer:
    names = [candidate.name for candidate in spiking_layers(model)]
    if isinstance(layer, str):
        matches = [candidate for candidate in model.layers if candidate.name == layer]
        if not matches:
            raise ValueError(
                f"record_states: `layer`={layer!r} is not a layer of model '{model.name}'; "
                f"its spiking recurrent layers are {names}."
            )
        layer = matches[0]
    elif not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            f"record_states: `layer` must be a layer name (str) or a layer object, got {type(layer).__name__}."
        )
    elif not any(candidate is layer for candidate in model.layers):
        raise ValueError(
            f"record_states: `layer` '{layer.name}' is not a layer of model '{model.name}'; "
            f"its spiking recurrent layers are {names}."
        )
    if not _is_spiking(layer):
        raise ValueError(
            f"record_states: `layer` '{layer.name}' ({type(layer).__name__}) is not a spiking recurrent layer "
            f"(a SpikingRNN, or a keras.layers.RNN of a spiking cell); the model's are {names}."
        )
    return layer


_MASKED = (
    "record_states: the inputs of layer '{name}' are masked (Masking or mask_zero upstream); masked sequences "
    "are not supported: record unpadded sequences with a model without the masking layer."
)


def _layer_inputs(model: keras.Model, layer: keras.layers.Layer, x: np.ndarray):
    try:
        symbolic = layer.input
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"record_states: the input of layer '{layer.name}' is not a single tensor of the model "
            f"(a layer called more than once, or with initial states?): {error}"
        ) from error
    if isinstance(symbolic, (list, tuple)) and any(str(t.dtype) == "bool" for t in symbolic):
        raise ValueError(_MASKED.format(name=layer.name))
    if isinstance(symbolic, (list, tuple)):
        raise ValueError(
            f"record_states: layer '{layer.name}' takes {len(symbolic)} inputs (initial states?); "
            "only layers called on one sequence can be recorded."
        )
    if len(model.inputs) != 1:
        raise ValueError(
            f"record_states: `model` must take one input, the sequences; model '{model.name}' takes "
            f"{len(model.inputs)}."
        )
    traced, probe, _ = trace_layers(model, np.shape(x)[-1], "record_states")
    upstream = keras.Model(probe.inputs, probe.outputs[2 * traced.index(layer)])  # the layer's input
    inputs = upstream(tf.convert_to_tensor(x), training=False)
    if getattr(inputs, "_keras_mask", None) is not None:
        raise ValueError(_MASKED.format(name=layer.name))
    return inputs


def _check_x(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(
            f"record_states: `x` must have shape (batch, timesteps, features); got shape {x.shape}. "
            "Add a batch axis to one sequence (x[None]) or a features axis to 2-D data (x[..., None])."
        )
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"record_states: `x` must be numeric, got dtype {x.dtype}.")
    return x


def _step_loop(cell: SpikingCell, jit_compile: bool):
    """A compiled loop over ``cell``: (batch, T, features) -> every state after every step, each (T, batch, units).

    Like the layer's own loop, a cell that allows it (``projects_inputs``) gets the feed-forward input of all steps
    in one product before the loop and runs :meth:`SpikingCell.step`; other cells are called on each raw step.
    """
    projects = bool(getattr(cell, "projects_inputs", False))

    def run(sequences):
        steps = tf.shape(sequences)[1]
        inputs = cell.project_inputs(sequences) if projects else sequences
        inputs = tf.transpose(inputs, (1, 0, 2))  # (T, batch, ...)
        initial = [tf.convert_to_tensor(s) for s in cell.get_initial_state(batch_size=tf.shape(sequences)[0])]
        history = [tf.TensorArray(s.dtype, size=steps, element_shape=s.shape) for s in initial]

        def body(t, states, history):
            if projects:
                _, new_states = cell.step(inputs[t], list(states), training=False)
            else:
                _, new_states = cell(inputs[t], list(states), training=False)
            new_states = [tf.convert_to_tensor(s) for s in new_states]
            return t + 1, new_states, [h.write(t, s) for h, s in zip(history, new_states)]

        _, _, history = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), initial, history), maximum_iterations=steps
        )
        return [h.stack() for h in history]

    return tf.function(run, jit_compile=jit_compile, autograph=False)


def record_states(model: keras.Model, x: np.ndarray, layer: Union[str, keras.layers.Layer]) -> dict[str, np.ndarray]:
    """Every state of one spiking layer after every timestep, for the sequences ``x``.

    The model runs (in inference mode) up to the layer, whose inputs come from the sub-model
    ``keras.Model(model.inputs, layer.input)``; then the layer's cell steps over them from rest
    (``cell.get_initial_state``), as the layer does, keeping each step's states. The layer's output
    sequence is the ``"output"`` entry, equal to what the layer returns with ``return_sequences=True``.

    With ``go_backwards`` the steps run from the last input step to the first, and every entry is in the
    order the steps ran, as the layer's own output sequence is: index 0 is the last input step. A
    ``stateful`` layer is recorded from rest too; its stored states are neither used nor changed. A cell
    with ``initial_potential="uniform"`` draws its own initial potential.

    Args:
        model: a Keras model whose inputs are the sequences ``x``.
        x: inputs of the model, (batch, timesteps, features), numeric.
        layer: the spiking recurrent layer to record, by name or as the layer object: a
            [`SpikingRNN`][keras_spiking_rnn.SpikingRNN] (or a ``keras.layers.RNN`` of a spiking cell)
            among ``model.layers``.

    Returns:
        ``{name: array (batch, timesteps, units)}`` in the layer's compute dtype, with one entry per
            name in ``layer.cell.state_names`` (ALIF: ``"potential"``, ``"adaptation"``, ``"spikes"``;
            LIF: ``"potential"``, ``"spikes"``; gated: ``"synaptic"``, ``"potential"``, ``"output"``), and:

            * ``"output"``: the layer's output at each step (the spikes; the gated cell's levels);
            * ``"threshold"``: the firing threshold at each step. ALIF: ``threshold + adaptation * eta_t``;
              LIF: the constant ``threshold``; gated: the potential above which the output is non-zero,
              ``(dead_zone + 1) * threshold``; any neuron: its ``threshold_trace``. Absent for cells
              without one.

    Raises:
        ValueError: ``x`` not 3-D; ``layer`` not in the model, not a spiking recurrent layer, called on
            more than one input, or receiving masked inputs.
        TypeError: ``layer`` neither a name nor a layer; ``x`` not numeric.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 3)),
        ...     SpikingRNN(5, neuron="alif", return_sequences=True, name="alif"),
        ...     LeakyReadout(4),
        ... ])
        >>> states = record_states(model, np.ones((2, 10, 3), "float32"), "alif")
        >>> sorted(states), states["potential"].shape
        (['adaptation', 'output', 'potential', 'spikes', 'threshold'], (2, 10, 5))
    """
    x = _check_x(x)
    layer = _resolve_layer(model, layer)
    cell = layer.cell
    inputs = _layer_inputs(model, layer, x)
    inputs = tf.cast(inputs, layer.compute_dtype)  # as Keras casts a layer's inputs
    if layer.go_backwards:
        inputs = tf.reverse(inputs, [1])
    # XLA when the layer's own loop is XLA-compiled (its fused loop), so that both round alike
    fused = getattr(layer, "bptt", None) == "fused" and getattr(layer, "jit_compile", False) and not layer.unroll
    jit = bool(fused and getattr(cell, "projects_inputs", False))
    history = _step_loop(cell, jit)(inputs)
    states = {name: np.transpose(np.asarray(h), (1, 0, 2)) for name, h in zip(cell.state_names, history)}
    states["output"] = states[cell.state_names[getattr(cell, "output_state", -1)]]
    threshold = _threshold(cell, states)
    if threshold is not None:
        states["threshold"] = threshold
    return states


def _threshold(cell: SpikingCell, states: dict[str, np.ndarray]) -> np.ndarray | None:
    trace = implementation(cell, "threshold_trace")  # the neuron's own, if it describes the cell's equations
    return None if trace is None else trace(states)


def accuracy_over_time(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: Sequence[int] | None = None,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Any-time decisions: the accuracy of the model after seeing only the first ``t`` steps, for each ``t``.

    The decision after ``t`` steps is the argmax of the model's output for ``x[:, :t]`` (Yin et al. 2021,
    Fig. 4e-i). If the model outputs a sequence (batch, timesteps, classes), e.g. a
    ``LeakyReadout(output_mode="sequence")``, its output at step ``t - 1`` is that decision (the layers are
    causal) and the model runs once; otherwise it runs (in inference mode) once per ``t`` on the truncated
    sequences ``x[:, :t]``, so it must accept sequences of any length. Each new length compiles the layers'
    loops again (a fraction of a second each): pass a few ``steps`` for long sequences.

    Args:
        model: a Keras model of (batch, timesteps, features) sequences whose output is class scores,
            (batch, classes) or (batch, timesteps, classes).
        x: the sequences, (n, timesteps, features).
        y: integer class labels, (n,).
        steps: the numbers of steps ``t`` to evaluate, each in ``1..timesteps``; default every step.
        batch_size: the number of sequences per model call.

    Returns:
        ``(steps, accuracies)``: int64 array (k,) and float64 array (k,), the fraction of the ``n``
            sequences whose decision after ``steps[i]`` steps is ``y``.

    Raises:
        ValueError: ``x`` not 3-D; ``y`` not (n,) integer labels; ``steps`` empty or outside
            ``1..timesteps``; ``batch_size`` not a positive integer; a model output that is not class scores.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 3)),
        ...     SpikingRNN(8, neuron="alif", return_sequences=True),
        ...     LeakyReadout(2, output_mode="sequence"),  # per-step scores: the model runs once
        ... ])
        >>> x, y = np.ones((6, 40, 3), "float32"), np.zeros(6, "int64")
        >>> steps, accuracy = accuracy_over_time(model, x, y, steps=[10, 20, 40])
        >>> steps, accuracy.shape
        (array([10, 20, 40]), (3,))
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"accuracy_over_time: `x` must have shape (n, timesteps, features); got shape {x.shape}.")
    y = np.asarray(y)
    if y.shape != (x.shape[0],) or not (np.issubdtype(y.dtype, np.integer) or _integral(y)):
        raise ValueError(
            f"accuracy_over_time: `y` must be integer class labels of shape (n,) = ({x.shape[0]},); "
            f"got shape {y.shape}, dtype {y.dtype}. Convert one-hot labels with y.argmax(-1)."
        )
    total = x.shape[1]
    steps = np.arange(1, total + 1) if steps is None else _check_steps(steps, total)
    y = y.astype(np.int64)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"accuracy_over_time: `batch_size` must be a positive integer, got {batch_size!r}.")
    full = _scores(model, x, int(batch_size))
    sequence = full.ndim == 3 and full.shape[1] == total  # causal per-step scores: one run serves every t
    accuracies = []
    for t in steps:
        if sequence:
            scores = full[:, t - 1]
        elif t == total:
            scores = full
        else:
            scores = _scores(model, x[:, :t], int(batch_size))
        if scores.ndim != 2 or scores.shape[0] != x.shape[0]:
            raise ValueError(
                f"accuracy_over_time: `model` must output class scores (n, classes) or (n, timesteps, classes); "
                f"got shape {scores.shape} for inputs of shape {x[:, :t].shape}."
            )
        accuracies.append(float(np.mean(np.argmax(scores, axis=-1) == y)))
    return steps, np.asarray(accuracies, dtype=np.float64)


def _scores(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs for ``x`` in inference mode, ``batch_size`` sequences per call, as one NumPy array."""
    parts = [model(x[start : start + batch_size], training=False) for start in range(0, x.shape[0], batch_size)]
    return np.concatenate([np.asarray(part) for part in parts], axis=0)


def _integral(values: np.ndarray) -> bool:
    return np.issubdtype(values.dtype, np.floating) and bool(np.all(np.isfinite(values) & (values == np.round(values))))


def _check_steps(steps: Sequence[int], total: int) -> np.ndarray:
    values = np.asarray(steps)
    if (
        values.ndim != 1
        or values.size == 0
        or not np.issubdtype(values.dtype, np.integer)
        or values.min() < 1
        or values.max() > total
    ):
        raise ValueError(
            f"accuracy_over_time: `steps` must be a non-empty sequence of integers in 1..{total} "
            f"(the number of timesteps of x); got {steps!r}."
        )
    return values.astype(np.int64)
