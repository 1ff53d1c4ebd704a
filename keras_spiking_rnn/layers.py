"""Sequence layers: ``SpikingRNN`` and the readouts ``LeakyReadout`` and ``SpikeCountReadout``."""

from __future__ import annotations

from typing import Any, Union

import tensorflow as tf

from keras_spiking_rnn import bptt as fused_bptt
from keras_spiking_rnn import surrogates
from keras_spiking_rnn._keras import LEGACY, keras
from keras_spiking_rnn.cells import MinValue
from keras_spiking_rnn.cells.neuron import available_neurons, get_neuron, registered_neurons
from keras_spiking_rnn.regularizers import FiringRateRegularizer

if not LEGACY:
    from keras.src import backend as keras_backend  # the time loop keras.layers.RNN itself runs

_LAYER_KWARGS = {"name", "dtype", "trainable", "autocast", "activity_regularizer", "input_shape", "input_dim"}
if LEGACY:  # tf-keras's RNN takes (and its get_config writes) these too
    _LAYER_KWARGS |= {"time_major", "batch_input_shape"}
_OUTPUT_MODES = ("last", "mean", "sequence")
_BPTT_MODES = ("fused", "autodiff")


def _check_sequences(layer: keras.layers.Layer, sequences_shape) -> None:
    if LEGACY and isinstance(sequences_shape, (list, tuple)) and sequences_shape and _is_shape(sequences_shape[0]):
        sequences_shape = sequences_shape[0]  # tf-keras: [sequences, *initial_states] when states are given
    if len(sequences_shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects inputs of shape (batch, timesteps, features); "
            f"got shape {tuple(sequences_shape)}. Add a features axis to 2-D data, e.g. x[..., None]."
        )


def _is_shape(value) -> bool:
    return isinstance(value, (list, tuple, tf.TensorShape))


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    layer = {k: v for k, v in kwargs.items() if k in _LAYER_KWARGS}
    cell = {k: v for k, v in kwargs.items() if k not in _LAYER_KWARGS}
    return layer, cell


def _make_cell(units: int | None, neuron: Any, cell_kwargs: dict[str, Any], dtype: Any) -> keras.layers.Layer:
    if isinstance(neuron, dict):
        neuron = keras.saving.deserialize_keras_object(neuron)
    if isinstance(neuron, keras.layers.Layer):
        if cell_kwargs:
            raise TypeError(
                f"SpikingRNN: cell arguments {sorted(cell_kwargs)} cannot be combined with a cell object "
                f"{type(neuron).__name__}; set them on the cell."
            )
        if not hasattr(neuron, "state_size"):
            raise TypeError(f"SpikingRNN: `neuron` must be an RNN cell (with state_size), got {neuron!r}.")
        if units is not None and units != getattr(neuron, "units", units):
            raise ValueError(f"SpikingRNN: `units`={units!r} differs from the cell's units={neuron.units}.")
        return neuron
    if not isinstance(neuron, str) or neuron not in available_neurons(spiking=True):
        raise ValueError(
            f"SpikingRNN: `neuron` must be one of {available_neurons(spiking=True)} (register new ones with "
            f"keras_spiking_rnn.register_neuron) or a cell object; got {neuron!r}."
        )
    if units is None:
        raise ValueError("SpikingRNN: `units` (a positive integer) is required when `neuron` is a name.")
    cls = get_neuron(neuron)
    try:
        return cls(units, dtype=dtype, **cell_kwargs)
    except (TypeError, ValueError) as error:
        if isinstance(error, ValueError) and "Unrecognized keyword arguments" not in str(error):
            raise
        raise TypeError(
            f"SpikingRNN(neuron={neuron!r}): {cls.__name__} does not take the argument(s) given: {error}"
        ) from error


class _SequenceRNN(keras.layers.RNN):
    """An RNN layer that checks its input is (batch, timesteps, features) and exposes the cell's ``units``.

    When the cell allows it (``cell.projects_inputs``), the feed-forward part
    of every timestep, ``inputs @ kernel + bias``, is one matrix product over
    the whole batch of sequences before the time loop, and the loop does only
    the recurrent product and the neuron update (``cell.step``). The
    equations are the same; one large product is much faster than T small
    ones, forward and backward.
    """

    @property
    def units(self) -> int:
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        _check_sequences(self, sequences_shape)
        if initial_state_shape is None:  # tf-keras's RNN.build takes the input shape only
            super().build(sequences_shape)
        else:
            super().build(sequences_shape, initial_state_shape)

    checks_inputs = False  # SpikingRNN refuses NaN and Inf inputs
    bptt = "autodiff"
    jit_compile = True

    def _set_training_options(self, bptt_mode: str, jit_compile: bool) -> None:
        if bptt_mode not in _BPTT_MODES:
            raise ValueError(f"{type(self).__name__}: `bptt` must be one of {_BPTT_MODES}, got {bptt_mode!r}.")
        if not isinstance(jit_compile, bool):
            raise ValueError(f"{type(self).__name__}: `jit_compile` must be True or False, got {jit_compile!r}.")
        self.bptt = bptt_mode
        self.jit_compile = jit_compile

    def _sequence_runner(self) -> fused_bptt.SequenceRunner:
        runners = self.__dict__.setdefault("_runners", {})  # not a tracked attribute: rebuilt after loading
        if "runner" not in runners:
            runners["runner"] = fused_bptt.SequenceRunner(self.cell, jit_compile=self.jit_compile)
        return runners["runner"]

    def _checks_projection(self) -> bool:
        return self.checks_inputs and not LEGACY and getattr(self.cell, "projects_inputs", False)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if LEGACY:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if not getattr(self.cell, "projects_inputs", False):  # e.g. the quantization-aware cells

            def step(inputs, states):
                output, new_states = self.cell(inputs, states, training=training)
                return output, list(new_states)

            inputs = sequences
        else:
            dropping = bool(training) and getattr(self.cell, "dropout", 0.0) > 0
            if dropping:  # one mask per sequence (drawn by keras.layers.RNN.call), the same at every step
                sequences = sequences * self.cell.get_dropout_mask(sequences[:, 0])[:, None, :]
            inputs = self.cell.project_inputs(sequences)
            if self._checks_projection():
                # NaN or Inf in the inputs makes their projection non-finite too, and it is smaller to scan
                inputs = _check_finite(self, inputs, "in its inputs or in `kernel`/`bias` (a diverged update?)")
            # The fused adjoint has no recurrent dropout mask: training with one runs Keras's loop.
            recurrent_dropping = bool(training) and getattr(self.cell, "recurrent_dropout", 0.0) > 0
            if self.bptt == "fused" and not recurrent_dropping and fused_bptt.supports(self.cell, mask, self.unroll):
                result = self._sequence_runner()(inputs, initial_state, go_backwards=self.go_backwards)
                self._add_firing_rate_loss(result[1], mask)
                return result

            def step(inputs, states):
                output, new_states = self.cell.step(inputs, states, training=training)
                return output, list(new_states)

        result = keras_backend.rnn(
            step,
            inputs,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences or self.firing_rate_regularizer is not None,
        )
        self._add_firing_rate_loss(result[1], mask)
        return result

    firing_rate_regularizer = None

    def _add_firing_rate_loss(self, outputs, mask) -> None:
        """Adds the firing-rate penalty of ``outputs`` (batch, time, units), in spikes per step, to the losses."""
        regularizer = self.firing_rate_regularizer
        if regularizer is None:
            return
        height = getattr(self.cell, "output_height", 1.0)  # a level-k output counts as k spikes
        spikes = outputs / tf.cast(height, outputs.dtype)
        if mask is not None and self.go_backwards:
            mask = tf.reverse(mask, [1])  # the outputs are in the order the steps ran
        if isinstance(regularizer, FiringRateRegularizer):
            self.add_loss(regularizer.penalty(regularizer.rates(spikes, mask)))
        else:
            self.add_loss(regularizer(spikes))


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class SpikingRNN(_SequenceRNN):
    """A recurrent layer of spiking neurons, over whole sequences.

    A ``keras.layers.RNN`` whose cell is chosen by name (``"lif"``,
    ``"alif"``, ``"gated"``, or any name given to
    [`register_neuron`][keras_spiking_rnn.cells.neuron.register_neuron])
    with the cell's arguments given directly, or passed as a cell object. Every RNN option works: ``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``, ``unroll``, masking;
    so do ``keras.layers.Bidirectional`` and saving.

    Input: (batch, timesteps, features), floating point, finite (checked).
    Output: spikes (batch, timesteps, units) if ``return_sequences`` else the
    last step's (batch, units); with ``return_state`` the cell's states follow.

    Args:
        units: number of neurons; may be omitted if ``neuron`` is a cell object.
        neuron: ``"lif"`` ([`LIFCell`][keras_spiking_rnn.cells.LIFCell]),
            ``"alif"`` ([`ALIFCell`][keras_spiking_rnn.cells.ALIFCell]),
            ``"gated"`` ([`GatedSpikingCell`][keras_spiking_rnn.cells.GatedSpikingCell]), a name registered
            with [`register_neuron`][keras_spiking_rnn.cells.neuron.register_neuron], or a cell object.
        return_sequences: return every step's output, not just the last.
        return_state: also return the final states.
        go_backwards: process the sequence backwards.
        stateful: keep the final states of a batch as the initial states of the next.
        unroll: unroll the time loop (short sequences only).
        zero_output_for_mask: output zeros (not the previous output) at masked steps.
        bptt: ``"fused"`` (default): the time loop and its gradient run as two
            loops written for spiking cells (``keras_spiking_rnn.bptt``),
            with the input projection of all steps as one matrix product;
            about 2x faster to train than ``"autodiff"`` for LIF and ALIF
            (``benchmarks/training_speed.py``). Used when there is no mask
            and no ``unroll``; otherwise Keras's loop runs. ``"autodiff"``:
            Keras's own loop, differentiated by TensorFlow (needed for
            gradients of gradients).
        jit_compile: compile the fused loops with XLA (faster on CPU; turn
            off where XLA is unavailable).
        firing_rate_regularizer: a
            [`FiringRateRegularizer`][keras_spiking_rnn.FiringRateRegularizer]
            (or any Keras regularizer, given the spikes (batch, timesteps,
            units)): its penalty on the spikes of every step is added to the
            loss, whatever ``return_sequences`` is.
        **kwargs: Keras layer arguments (``name``, ``dtype``, ``trainable``) and,
            when ``neuron`` is a name, the cell's arguments (``surrogate``,
            ``tau_m_initializer``, ``threshold``, ``levels``, ...).

    Raises:
        ValueError: unknown ``neuron``, missing or non-positive ``units`` (or ``units`` other than a
            cell object's), an unknown ``bptt``, a non-bool ``jit_compile``, a
            ``firing_rate_regularizer`` that is not a regularizer, inputs that are not 3-D, or an
            invalid cell argument.
        TypeError: non-float inputs, cell arguments the cell does not take (or given with a cell
            object), a ``neuron`` object that is not an RNN cell.
        tf.errors.InvalidArgumentError: NaN or Inf in the inputs; in training, a NaN or Inf gradient, naming
            the layer and whether it received it or its backward pass through time produced it.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((None, 40)),
        ...     SpikingRNN(128, neuron="alif", surrogate="multi_gaussian", return_sequences=True),
        ...     LeakyReadout(10),
        ... ])
        >>> model.output_shape
        (None, 10)
    """

    checks_inputs = True

    def __init__(
        self,
        units: int | None = None,
        neuron: Union[str, keras.layers.Layer, dict] = "alif",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        bptt: str = "fused",
        jit_compile: bool = True,
        firing_rate_regularizer: keras.regularizers.Regularizer | dict | None = None,
        **kwargs: Any,
    ):
        layer_kwargs, cell_kwargs = _split_kwargs(kwargs)
        cell = _make_cell(units, neuron, cell_kwargs, layer_kwargs.get("dtype"))
        self._set_training_options(bptt, jit_compile)
        if firing_rate_regularizer is not None:
            given = firing_rate_regularizer
            if LEGACY:
                raise ValueError("SpikingRNN: `firing_rate_regularizer` needs Keras 3 (not tf-keras).")
            try:
                firing_rate_regularizer = keras.regularizers.get(firing_rate_regularizer)
            except (ValueError, TypeError):
                firing_rate_regularizer = None
            if not callable(firing_rate_regularizer):
                raise ValueError(
                    "SpikingRNN: `firing_rate_regularizer` must be a FiringRateRegularizer or another Keras "
                    f"regularizer, got {given!r}."
                )
        self.firing_rate_regularizer = firing_rate_regularizer
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **layer_kwargs,
        )

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if sequences.dtype.is_floating and not self._checks_projection():
            sequences = _check_finite(self, sequences)
        outputs = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        return _check_gradient_received(self, outputs) if training else outputs

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["neuron"] = config.pop("cell")
        config["units"] = self.cell.units
        config.update(bptt=self.bptt, jit_compile=self.jit_compile)
        if self.firing_rate_regularizer is not None:
            config["firing_rate_regularizer"] = keras.regularizers.serialize(self.firing_rate_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> SpikingRNN:
        config = dict(config)
        if LEGACY:  # tf-keras's h5 and SavedModel loaders look nested objects up by their bare class name
            custom_objects = {**custom_objects_by_name(), **(custom_objects or {})}
        config["neuron"] = deserialize_neuron(config["neuron"], custom_objects, owner=cls.__name__)
        return cls(**config)


def deserialize_neuron(config: Any, custom_objects=None, owner: str = "SpikingRNN") -> keras.layers.Layer:
    """A saved layer's cell from its config; a clear error names a neuron that is not registered here.

    Args:
        config: the serialized cell (``get_config()["neuron"]``).
        custom_objects: as ``keras.saving.deserialize_keras_object`` takes them.
        owner: the layer class, for the message.

    Returns:
        The cell.

    Raises:
        TypeError: the cell's class is not known in this process.
    """
    try:
        return keras.saving.deserialize_keras_object(config, custom_objects=custom_objects)
    except TypeError as error:
        if not isinstance(config, dict) or "class_name" not in config:
            raise
        name = config.get("registered_name") or config["class_name"]
        registered = [getattr(c, "__name__", "") for c in registered_neurons().values()]
        if config["class_name"] in registered:
            raise
        raise TypeError(
            f"{owner}: cannot load the neuron {config['class_name']!r} (registered as {name!r}, from module "
            f"{config.get('module')!r}): no such class is registered in this process. Import the module that "
            "defines it (and decorates it with keras_spiking_rnn.register_neuron) before loading the model, or "
            "pass it in custom_objects. Registered neurons: "
            f"{', '.join(sorted(registered))}."
        ) from error


def _check_finite(layer, tensor, where: str = "inputs"):
    """``tensor``, after checking that it is finite; in training, its gradient is checked too.

    The gradient of a layer's (projected) inputs is what the layer's backward pass through time produced.
    `_check_gradient_received` checks the gradient at the layer's outputs first, so when this check
    fails, the layer itself turned a finite gradient into NaN or Inf.
    """
    message = f"{type(layer).__name__} '{layer.name}' received NaN or Inf {where}"
    gradient_message = (
        f"{type(layer).__name__} '{layer.name}': the gradient became NaN or Inf in its backward pass through "
        "time, though the gradient it received was finite (exploding gradients: try a lower learning rate, "
        "clipnorm= in the optimizer, shorter sequences, or detach_reset=True)"
    )

    @tf.custom_gradient
    def checked(values):
        return tf.debugging.check_numerics(values, message), lambda upstream: tf.debugging.check_numerics(
            upstream, gradient_message
        )

    return checked(tensor)


def _check_gradient_received(layer, outputs):
    """``outputs`` unchanged; in training, the gradient they receive is checked to be finite."""
    message = (
        f"{type(layer).__name__} '{layer.name}' received a NaN or Inf gradient from the layers after it or from "
        "the loss"
    )

    @tf.custom_gradient
    def watched(values):
        return tf.identity(values), lambda upstream: tf.debugging.check_numerics(upstream, message)

    if isinstance(outputs, (list, tuple)):
        return [watched(outputs[0]), *outputs[1:]]
    return watched(outputs)


def _masked_mean(sequences, mask):
    if mask is None:
        return tf.reduce_mean(sequences, axis=1)
    weights = tf.cast(mask, sequences.dtype)[..., None]
    total = tf.reduce_sum(sequences * weights, axis=1)
    return total / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class LeakyReadout(_SequenceRNN):
    """Non-spiking leaky-integrator output layer (Yin et al. 2021).

    ``u_t = alpha * u_{t-1} + (1 - alpha) * (x_t @ kernel + bias)`` per output
    neuron ([`LeakyIntegratorCell`][keras_spiking_rnn.cells.LeakyIntegratorCell]); ``u_t`` are the logits at step
    ``t`` (softmax them at every step for streaming decisions).

    Input: (batch, timesteps, features). Output by ``output_mode``:

    * ``"last"``: ``u_T``, (batch, units), the decision after the whole sequence;
    * ``"mean"``: the mean of ``u_t`` over the (unmasked) steps, (batch, units);
    * ``"sequence"``: every ``u_t``, (batch, timesteps, units), for per-step losses.

    Args:
        units: number of output neurons (classes).
        output_mode: ``"last"``, ``"mean"`` or ``"sequence"``.
        stateful: keep the potential between batches (streaming).
        go_backwards: integrate the sequence backwards.
        bptt: ``"fused"`` or ``"autodiff"``, as in [`SpikingRNN`][keras_spiking_rnn.SpikingRNN].
        jit_compile: compile the fused loops with XLA.
        **kwargs: Keras layer arguments (``name``, ``dtype``) and the arguments
            of [`LeakyIntegratorCell`][keras_spiking_rnn.cells.LeakyIntegratorCell]
            (``tau_m_initializer``, ``use_bias``, ...).

    Raises:
        ValueError: an unknown ``output_mode`` or ``bptt``, a non-bool ``jit_compile``, inputs
            that are not 3-D, or an invalid cell argument.
        TypeError: non-float inputs.

    Examples:
        >>> readout = LeakyReadout(10, output_mode="mean")
        >>> readout(np.ones((2, 5, 8), "float32")).shape
        TensorShape([2, 10])
    """

    neuron = "leaky_integrator"  # the registered readout neuron; the quantization-aware readout substitutes its own

    @property
    def cell_class(self) -> type:
        """The class of the readout's cell: the neuron registered as ``neuron``."""
        return get_neuron(self.neuron)

    def __init__(
        self,
        units: int,
        output_mode: str = "last",
        stateful: bool = False,
        go_backwards: bool = False,
        bptt: str = "fused",
        jit_compile: bool = True,
        **kwargs: Any,
    ):
        if output_mode not in _OUTPUT_MODES:
            raise ValueError(f"LeakyReadout: `output_mode` must be one of {_OUTPUT_MODES}, got {output_mode!r}.")
        kwargs.pop("return_sequences", None)  # set by output_mode; present in configs of older saves
        kwargs.pop("cell", None)
        layer_kwargs, cell_kwargs = _split_kwargs(kwargs)
        cell = self.cell_class(units, dtype=layer_kwargs.get("dtype"), **cell_kwargs)
        self._set_training_options(bptt, jit_compile)
        super().__init__(
            cell,
            return_sequences=output_mode != "last",
            stateful=stateful,
            go_backwards=go_backwards,
            **layer_kwargs,
        )
        self.output_mode = output_mode

    def call(self, sequences, initial_state=None, mask=None, training=False):
        outputs = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        if self.output_mode == "mean":
            return _masked_mean(outputs, mask)
        return outputs

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        if self.output_mode == "mean":
            return (sequences_shape[0], self.units)
        if initial_state_shape is None:  # tf-keras's RNN.compute_output_shape takes the input shape only
            return super().compute_output_shape(sequences_shape)
        return super().compute_output_shape(sequences_shape, initial_state_shape)

    def compute_mask(self, inputs, mask):
        return mask if self.output_mode == "sequence" else None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        for key in ("return_sequences", "return_state", "unroll", "zero_output_for_mask"):
            config.pop(key, None)
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {
            **config,
            **cell_config,
            "output_mode": self.output_mode,
            "bptt": self.bptt,
            "jit_compile": self.jit_compile,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> LeakyReadout:
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class SpikeCountReadout(keras.layers.Layer):
    """Spike-count decoding: the class scores are the spikes summed over time (Yin et al. 2021).

    ``scores = sum_t s_t`` (or the mean over unmasked steps), typically after a
    spiking layer with one neuron per class; ``softmax(scores)`` is the
    prediction, so train with ``from_logits=True``.

    Input: (batch, timesteps, units). Output: (batch, units).

    Args:
        reduction: ``"sum"`` (the paper's) or ``"mean"`` (the firing rate).
        **kwargs: Keras layer arguments.

    Raises:
        ValueError: ``reduction`` neither ``"sum"`` nor ``"mean"``, or inputs that are not 3-D.

    Examples:
        >>> SpikeCountReadout()(np.ones((2, 5, 3), "float32")).numpy()[0]
        array([5., 5., 5.], dtype=float32)
    """

    def __init__(self, reduction: str = "sum", **kwargs: Any):
        super().__init__(**kwargs)
        if reduction not in ("sum", "mean"):
            raise ValueError(f"SpikeCountReadout: `reduction` must be 'sum' or 'mean', got {reduction!r}.")
        self.reduction = reduction
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequences(self, input_shape)

    def call(self, inputs, mask=None):
        if self.reduction == "mean":
            return _masked_mean(inputs, mask)
        if mask is not None:
            inputs = inputs * tf.cast(mask, inputs.dtype)[..., None]
        return tf.reduce_sum(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reduction": self.reduction}


def custom_objects_by_name() -> dict[str, type]:
    """Every serializable class of the package by its bare class name: cells, layers, surrogates, regularizers.

    Keras 3 and tf-keras's ``.keras`` format find them by their registered
    names (``"keras_spiking_rnn>ALIFCell"``). tf-keras's h5 and SavedModel
    formats look nested objects up by class name, so pass this dict to
    ``tf_keras.models.load_model(path, custom_objects=...)`` if those fail to
    find a class (``SpikingRNN`` adds it to its own cell's lookup already).

    Returns:
        ``{"ALIFCell": ALIFCell, ..., "MultiGaussian": surrogates.MultiGaussian, ...}``.

    Example:
        >>> model = tf_keras.models.load_model("model.h5", custom_objects=custom_objects_by_name())
    """
    classes = [*registered_neurons().values(), MinValue, SpikingRNN, LeakyReadout]
    classes += [SpikeCountReadout, FiringRateRegularizer, *surrogates._REGISTRY.values()]
    return {cls.__name__: cls for cls in classes}
