"""What the spiking cells share: synaptic weights, time constants, state at rest, config.

Both implement the neuron protocol ([`Neuron`][keras_spiking_rnn.cells.neuron.Neuron]). Two base classes:

* :class:`SpikingCell`: units, spike function (surrogate), input/recurrent
  weights and bias with their initializers and regularizers.
* :class:`LeakyCell`: adds a leaky membrane with per-neuron trainable time
  constant ``tau_m``, a threshold and an optional random initial potential.
  LIF and ALIF derive from it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from keras_spiking_rnn import surrogates
from keras_spiking_rnn._keras import LEGACY, DropoutRNNCell, keras
from keras_spiking_rnn.cells.neuron import Neuron

_PACKAGE = "keras_spiking_rnn"
InitializerLike = Any  # str, dict or keras.initializers.Initializer
RegularizerLike = Any  # None, str, dict or keras.regularizers.Regularizer


def check_positive_int(owner: str, name: str, value: Any) -> int:
    """Returns ``value`` as an int, or raises ValueError naming ``owner`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive integer, got {value!r}.")
    return int(value)


def check_number(owner: str, name: str, value: Any, minimum: float = 0.0, strict: bool = True) -> float:
    """Returns ``value`` as a float if finite and above ``minimum`` (or equal, unless ``strict``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum)
    if not ok:
        relation = ">" if strict else ">="
        raise ValueError(f"{owner}: `{name}` must be a finite number {relation} {minimum}, got {value!r}.")
    return float(value)


def check_rate(owner: str, name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is a number in [0, 1), or raises ValueError naming ``owner`` and ``name``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value < 1.0
    if not ok:
        raise ValueError(f"{owner}: `{name}` must be a number in [0, 1), got {value!r}.")
    return float(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Returns ``value`` if it is True or False (also NumPy's), or raises TypeError naming ``owner`` and ``name``.

    Strings are refused: ``bool("False")`` is True.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{name}` must be True or False, got {value!r}.")
    return bool(value)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MinValue(keras.constraints.Constraint):
    """Keeps a weight at or above ``min_value``; NaN entries become ``min_value``.

    The cells put it on their time constants so that ``tau > 0`` holds after
    every optimizer step, without changing the forward equations.

    Args:
        min_value: the smallest value allowed.

    Examples:
        >>> MinValue(1.0)(tf.constant([0.5, 2.0, float("nan")]))
        <tf.Tensor: shape=(3,), dtype=float32, numpy=array([1., 2., 1.], dtype=float32)>
    """

    def __init__(self, min_value: float):
        self.min_value = float(min_value)

    def __call__(self, w):
        floor = tf.cast(self.min_value, w.dtype)
        return tf.where(w >= floor, w, floor)  # NaN >= floor is False

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ValueRange(keras.constraints.Constraint):
    """Keeps every entry of a weight in ``[min_value, max_value]`` after each optimizer step; NaN becomes
    ``min_value``.

    Args:
        min_value: the smallest value allowed.
        max_value: the largest value allowed (>= ``min_value``).

    Raises:
        ValueError: ``max_value`` below ``min_value``.

    Examples:
        >>> ValueRange(0.0, 1.0)(tf.constant([-0.5, 0.5, 2.0]))
        <tf.Tensor: shape=(3,), dtype=float32, numpy=array([0. , 0.5, 1. ], dtype=float32)>
    """

    def __init__(self, min_value: float, max_value: float):
        self.min_value, self.max_value = float(min_value), float(max_value)
        if not self.min_value <= self.max_value:
            raise ValueError(f"ValueRange: `max_value`={max_value!r} must be >= `min_value`={min_value!r}.")

    def __call__(self, w):
        low, high = tf.cast(self.min_value, w.dtype), tf.cast(self.max_value, w.dtype)
        return tf.where(w >= low, tf.minimum(w, high), low)  # NaN >= low is False

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value}


def add_time_constant(
    layer: keras.layers.Layer, name: str, units: int, initializer: InitializerLike, min_tau: float, trainable: bool
) -> Any:
    """Adds a per-neuron time constant of shape (units,), kept at or above ``min_tau``, to a cell in ``build``.

    The [`MinValue`][keras_spiking_rnn.cells.MinValue] constraint runs after every optimizer step, and once
    here, since an initializer such as ``RandomNormal(20, 5)`` may draw a few
    values below ``min_tau``. A neuron of your own adds its time constants with it
    (``examples/custom_neuron.py``).

    Args:
        layer: the cell, in its ``build``.
        name: the weight's name, e.g. ``"tau_syn"``; the error message calls the initializer ``{name}_initializer``.
        units: number of neurons.
        initializer: the initializer of the time constants, in steps of ``dt``.
        min_tau: the smallest value allowed.
        trainable: whether the time constants train.

    Returns:
        The weight (a Keras variable of shape (units,)).

    Raises:
        ValueError: an initializer whose draws are not finite or average at or below ``min_tau`` (e.g. a
            non-positive constant).

    Examples:
        >>> cell = LIFCell(4)
        >>> cell.build((None, 3))
        >>> tau = add_time_constant(cell, "tau_syn", 4, keras.initializers.Constant(5.0), 1.0, True)
        >>> tau.numpy()
        array([5., 5., 5., 5.], dtype=float32)
    """
    constraint = MinValue(min_tau)
    weight = layer.add_weight(
        shape=(units,),
        name=name,
        initializer=keras.initializers.get(initializer),
        constraint=constraint,
        trainable=trainable,
    )
    drawn = np.asarray(tf.convert_to_tensor(weight))
    if not np.all(np.isfinite(drawn)) or drawn.mean() <= min_tau:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{name}_initializer` must give time constants above "
            f"min_tau={min_tau}; it gave values with mean {drawn.mean():.4g}. Time constants are in steps of dt, "
            "e.g. keras.initializers.RandomNormal(20.0, 5.0)."
        )
    weight.assign(constraint(tf.convert_to_tensor(weight)))
    return weight


def initial_batch_size(batch_size, inputs):
    """The batch size for ``get_initial_state``: ``batch_size``, else the first axis of ``inputs`` (tf-keras)."""
    if batch_size is None and inputs is not None:
        return tf.shape(inputs)[0]
    return batch_size


def decay(dt: float, tau, dtype) -> tf.Tensor:
    """Decay factor over one step, ``exp(-dt / tau)``, in ``dtype``; shape of ``tau``."""
    return tf.exp(-dt / tf.cast(tau, dtype))


def check_step_input(layer: keras.layers.Layer, inputs) -> None:
    """Raises TypeError unless ``inputs`` is floating point (ints would fail deep in a matmul)."""
    dtype = tf.as_dtype(inputs.dtype)
    if not dtype.is_floating:
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}' needs floating-point inputs, got dtype {dtype.name}; "
            "cast them first, e.g. x.astype('float32')."
        )


def input_dim(layer: keras.layers.Layer, step_shape) -> int:
    """The feature count of one timestep ``(batch, features)``, or a ValueError naming the shape."""
    shape = tuple(step_shape)
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects one timestep of shape (batch, features) with a "
            f"known number of features, i.e. sequences of shape (batch, timesteps, features); "
            f"got a step of shape {shape}."
        )
    return int(shape[-1])


def project(layer: keras.layers.Layer, inputs, kernel, bias):
    """``inputs @ kernel (+ bias)`` over the last axis of a 2-D or 3-D ``inputs``, as one 2-D matrix product.

    The bias is added to the 2-D product (``bias_add``), which TensorFlow fuses with the product and whose
    gradient is a fast column sum.
    """
    check_step_input(layer, inputs)
    flat = inputs if len(inputs.shape) == 2 else tf.reshape(inputs, (-1, tf.shape(inputs)[-1]))
    projected = tf.matmul(flat, kernel)
    if bias is not None:
        projected = tf.nn.bias_add(projected, bias)
    if len(inputs.shape) == 2:
        return projected
    shape = tf.shape(inputs)
    projected = tf.reshape(projected, tf.concat([shape[:-1], tf.shape(kernel)[-1:]], axis=0))
    projected.set_shape(inputs.shape[:-1].concatenate(kernel.shape[-1:]))
    return projected


class SpikingCell(Neuron, DropoutRNNCell, keras.layers.Layer):
    """Base class of the spiking RNN cells.

    The synaptic input at step ``t`` is
    ``I_t = x_t @ kernel + out_{t-1} @ recurrent_kernel + bias``
    (the recurrent term only if ``recurrent``), with ``n_gates`` blocks of
    ``units`` columns. Every state rests at zero, so Keras's ``reset_state``
    and TFLite Micro's ``reset()`` both return a cell to rest.

    Subclasses name their states in ``state_names``, implement ``update`` and
    add their own arguments to ``get_config``; the rest of the neuron protocol
    ([`Neuron`][keras_spiking_rnn.cells.neuron.Neuron]: the adjoint, the int8 step,
    operation counts) is optional.

    Args:
        units: number of neurons.
        surrogate: spike function: a name from
            [`available`][keras_spiking_rnn.surrogates.available], a config dict or a
            [`Surrogate`][keras_spiking_rnn.surrogates.Surrogate].
        recurrent: whether the layer's previous outputs feed back through
            ``recurrent_kernel``.
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel`` (input weights).
        recurrent_initializer: initializer of ``recurrent_kernel``.
        bias_initializer: initializer of ``bias``.
        kernel_regularizer: regularizer of ``kernel``.
        recurrent_regularizer: regularizer of ``recurrent_kernel``.
        bias_regularizer: regularizer of ``bias``.
        dropout: the fraction of the inputs' features to drop in training, as in Keras's RNN cells: one mask
            per sequence, the same at every step (Gal & Ghahramani 2016).
        recurrent_dropout: the fraction of the previous step's outputs to drop from the recurrent input in
            training, one mask per sequence. Training then runs Keras's loop rather than the fused BPTT.
        seed: the seed of the dropout masks.
        **kwargs: forwarded to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Raises:
        ValueError: ``units`` not a positive integer, an unknown ``surrogate`` name, or ``dropout`` or
            ``recurrent_dropout`` not in [0, 1) (or above 0 under tf-keras); when built, a step shape that
            is not (batch, features).
        TypeError: a ``surrogate`` that is neither a name, a dict nor a ``Surrogate``; when called,
            inputs that are not floating point.

    Examples:
        >>> class Relay(SpikingCell):  # spikes wherever the synaptic input exceeds 0.5
        ...     state_names = ("spikes",)
        ...     def update(self, current, states, constants):
        ...         return [self.surrogate(current - 0.5)]
        >>> layer = keras.layers.RNN(Relay(8), return_sequences=True)
        >>> layer(np.ones((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        units: int,
        surrogate: surrogates.SurrogateLike = "multi_gaussian",
        recurrent: bool = True,
        use_bias: bool = True,
        kernel_initializer: InitializerLike = "glorot_uniform",
        recurrent_initializer: InitializerLike = "orthogonal",
        bias_initializer: InitializerLike = "zeros",
        kernel_regularizer: RegularizerLike = None,
        recurrent_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_positive_int(owner, "units", units)
        self.dropout = check_rate(owner, "dropout", dropout)
        self.recurrent_dropout = check_rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        if self.dropout or self.recurrent_dropout:
            if LEGACY:
                raise ValueError(f"{owner}: `dropout` and `recurrent_dropout` need Keras 3 (not tf-keras).")
            # Only with dropout: the generator's state is a variable, and a cell without dropout keeps none.
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.surrogate = surrogates.get(surrogate)
        self.recurrent = bool(recurrent)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.state_size = [self.units] * len(self.state_names)
        self.output_size = self.units

    def build(self, input_shape) -> None:
        width = self.n_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim(self, input_shape), width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = None
        if self.recurrent:
            self.recurrent_kernel = self.add_weight(
                shape=(self.units, width),
                name="recurrent_kernel",
                initializer=self.recurrent_initializer,
                regularizer=self.recurrent_regularizer,
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,), name="bias", initializer=self.bias_initializer, regularizer=self.bias_regularizer
            )

    #: The layer may compute ``inputs @ kernel + bias`` for all timesteps in one matrix product before the
    #: time loop and then call :meth:`step` (see :meth:`project_inputs`). Quantization-aware cells set False.
    projects_inputs: bool = True

    def project_inputs(self, inputs: tf.Tensor) -> tf.Tensor:
        """The feed-forward part of the synaptic input, ``inputs @ kernel + bias``.

        Args:
            inputs: one step (batch, features) or a whole sequence
                (batch, timesteps, features), a floating-point tensor.

        Returns:
            Tensor of shape (..., n_gates * units) in the dtype of ``inputs``, with the
                leading axes of ``inputs``. A sequence is projected with one matrix product
                of (batch * timesteps, features) by (features, n_gates * units).

        Raises:
            TypeError: ``inputs`` not floating point.

        Examples:
            >>> cell = LIFCell(4)
            >>> cell.build((None, 3))
            >>> cell.project_inputs(tf.ones((2, 10, 3))).shape
            TensorShape([2, 10, 4])
        """
        return project(self, inputs, self.kernel, self.bias)

    def synaptic_input(self, projected: tf.Tensor, previous_output: tf.Tensor) -> tf.Tensor:
        """The synaptic input of one step, ``projected + previous_output @ recurrent_kernel``.

        Args:
            projected: [`project_inputs`][keras_spiking_rnn.cells.SpikingCell.project_inputs] of this step's
                inputs, (batch, n_gates * units).
            previous_output: the output of step ``t - 1``, (batch, units).

        Returns:
            Tensor of shape (batch, n_gates * units): ``projected`` itself if the cell is not ``recurrent``.

        Examples:
            >>> cell = LIFCell(4)
            >>> cell.build((None, 3))
            >>> cell.synaptic_input(tf.zeros((2, 4)), tf.ones((2, 4))).shape
            TensorShape([2, 4])
        """
        if self.recurrent_kernel is None:
            return projected
        return projected + tf.matmul(previous_output, self.recurrent_kernel)

    def call(
        self, inputs: tf.Tensor, states: list[tf.Tensor], training: bool | None = None
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """One step from the raw inputs: ``step(project_inputs(inputs), states)``.

        See [`step`][keras_spiking_rnn.cells.SpikingCell.step] and
        [`project_inputs`][keras_spiking_rnn.cells.SpikingCell.project_inputs].

        Args:
            inputs: this step's inputs, (batch, features), floating point.
            states: the states of step ``t - 1``, one (batch, units) tensor per name in ``state_names``.
            training: Keras's training flag, passed on to ``step``.

        Returns:
            ``(output, new_states)``: the output, (batch, units), and the list of new states, each
                (batch, units), in the cell's compute dtype.

        Raises:
            TypeError: ``inputs`` not floating point.

        Examples:
            >>> cell = LIFCell(4)
            >>> cell.build((None, 3))
            >>> output, states = cell(tf.ones((2, 3)), cell.get_initial_state(batch_size=2))
            >>> output.shape, len(states)
            (TensorShape([2, 4]), 2)
        """
        if training and self.dropout:
            inputs = inputs * self.get_dropout_mask(inputs)
        return self.step(self.project_inputs(inputs), states, training=training)

    def step(
        self, projected: tf.Tensor, states: list[tf.Tensor], training: bool | None = None
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """One step from the projected inputs: ``synaptic_input``, then the neuron ``update``.

        See [`synaptic_input`][keras_spiking_rnn.cells.SpikingCell.synaptic_input] and
        [`update`][keras_spiking_rnn.cells.SpikingCell.update].

        Args:
            projected: this step's ``inputs @ kernel + bias``, (batch, n_gates * units).
            states: the states of step ``t - 1``, one (batch, units) tensor per name in ``state_names``.
            training: Keras's training flag: with ``recurrent_dropout``, the previous output is masked in
                training; the neuron update does not use it.

        Returns:
            ``(output, new_states)``: ``new_states[output_state]``, (batch, units), and the list of new
                states, each (batch, units).

        Examples:
            >>> cell = LIFCell(4)
            >>> cell.build((None, 3))
            >>> output, states = cell.step(cell.project_inputs(tf.ones((2, 3))), cell.get_initial_state(batch_size=2))
            >>> output.shape
            TensorShape([2, 4])
        """
        states = list(states)
        previous_output = states[self.output_state]
        if training and self.recurrent_dropout:
            previous_output = previous_output * self.get_recurrent_dropout_mask(previous_output)
        current = self.synaptic_input(projected, previous_output)
        new_states = self.update(current, states, self.step_constants())
        return new_states[self.output_state], new_states

    def step_constants(self) -> tuple:
        """Tensors computed from the weights once per sequence (decay factors), passed to ``update``.

        Returns:
            An empty tuple here; subclasses return their decay factors, each of shape (units,).

        Examples:
            >>> SpikingCell(4).step_constants()
            ()
        """
        return ()

    def update(self, current: tf.Tensor, states: list[tf.Tensor], constants: tuple) -> list:
        """The neuron update: the states of step ``t`` from the synaptic input ``current``.

        Args:
            current: ``x_t @ kernel + out_{t-1} @ recurrent_kernel + bias``, (batch, n_gates * units).
            states: the states of step ``t - 1``, each (batch, units), in the order of ``state_names``.
            constants: [`step_constants`][keras_spiking_rnn.cells.SpikingCell.step_constants].

        Returns:
            The states of step ``t``, each (batch, units); ``states[output_state]`` is the output.

        Raises:
            NotImplementedError: always, here; subclasses implement the update.

        Examples:
            >>> cell = LIFCell(4, tau_m_initializer=keras.initializers.Constant(10.0))
            >>> cell.build((None, 3))
            >>> states = cell.get_initial_state(batch_size=2)
            >>> potential, spikes = cell.update(tf.ones((2, 4)), states, cell.step_constants())
            >>> potential.numpy()[0].round(4)  # (1 - exp(-1/10)) * 1
            array([0.0952, 0.0952, 0.0952, 0.0952], dtype=float32)
        """
        raise NotImplementedError

    def get_initial_state(
        self, batch_size: int | tf.Tensor | None = None, inputs: tf.Tensor | None = None, dtype: Any = None
    ) -> list[tf.Tensor]:
        """All states at rest: one zero tensor of shape (batch_size, units) per state.

        Keras 3 calls ``get_initial_state(batch_size=...)``; tf-keras calls
        ``get_initial_state(inputs=None, batch_size=..., dtype=...)``. Both work;
        the states are in the cell's compute dtype either way.

        Args:
            batch_size: the number of sequences; if None, the first axis of ``inputs``.
            inputs: a batch of inputs whose first axis gives the batch size when ``batch_size`` is None.
            dtype: ignored: the states take the cell's compute dtype.

        Returns:
            One zero tensor of shape (batch_size, units) per name in ``state_names``, in the cell's
                compute dtype.

        Examples:
            >>> [state.shape for state in LIFCell(4).get_initial_state(batch_size=2)]
            [TensorShape([2, 4]), TensorShape([2, 4])]
        """
        batch_size = initial_batch_size(batch_size, inputs)
        return [tf.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in self.state_names]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "surrogate": surrogates.serialize(self.surrogate),
            "recurrent": self.recurrent,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class LeakyCell(SpikingCell):
    """A spiking cell with a leaky membrane potential ``u`` (state ``"potential"``).

    The membrane decays by ``exp(-dt / tau_m)`` per step, with ``tau_m`` a
    per-neuron weight (trainable by default) kept at or above ``min_tau``.

    Args:
        units: number of neurons.
        threshold: firing threshold (ALIF: its resting value ``b0``).
        tau_m_initializer: initializer of ``tau_m``; default ``N(5, 1)``. Yin et al. (Table S1) start at
            ``N(20, 5)`` for SHD's 250 steps; on the accuracy panel's sequences (24 to 150 steps, one to
            eight features) ``N(5, 1)`` fit the training sets far better (docs/training.md), and trained
            time constants grow where a task needs longer memory.
        train_time_constants: whether the time constants are trainable.
        min_tau: the smallest value a time constant may take.
        dt: simulation time step, in the units of the time constants.
        initial_potential: ``"zeros"`` (default; reproducible, and what
            streaming export expects) or ``"uniform"``: ``u_0 ~ U[0, threshold]``
            per sequence, as in Yin et al.
        detach_reset: whether the gradient skips the reset (default True; False in
            [`ALIFCell`][keras_spiking_rnn.cells.ALIFCell], whose subtractive reset keeps gradients
            bounded). The forward pass is the same
            either way: the reset still acts on the potential, but BPTT treats the spike that triggers it as a
            constant (see [`reset_spikes`][keras_spiking_rnn.cells.LeakyCell.reset_spikes]). Through a hard
            reset, ``u_t = alpha * u_{t-1} * (1 - s_{t-1}) + ...``, BPTT gives
            ``du_t/du_{t-1} = alpha * (1 - s_{t-1}) - alpha * u_{t-1} * surrogate'(u_{t-1} - threshold)``: for a
            silent neuron with a negative potential the second term adds to the leak, and the gain per step
            exceeds 1 (about 1.18 at ``u = -0.5`` with the default surrogate), so gradients grow exponentially
            with the sequence length (1e30 at 500 steps, NaN at 2,000). snnTorch detaches the reset by
            default and SpikingJelly offers ``detach_reset``; Zenke & Vogels (2021, Neural Computation) study
            the choice.
        **kwargs: the arguments of [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell]; here
            ``kernel_initializer`` defaults to ``"lecun_normal"`` (variance ``1 / features``), which keeps the
            input current at the scale of the inputs whatever their number. Xavier's ``glorot_uniform``
            (variance ``2 / (features + units)``) makes the input current of a layer with a few inputs
            small next to its recurrent current; with it, LIF trained at chance on digits read pixel by
            pixel (see docs/benchmarks.md).

    Raises:
        ValueError: ``threshold``, ``min_tau`` or ``dt`` not a finite number > 0, or
            ``initial_potential`` neither ``"zeros"`` nor ``"uniform"``; when built, a
            ``tau_m_initializer`` whose draws average at or below ``min_tau``.
        TypeError: ``detach_reset`` not True or False.

    Examples:
        >>> cell = LIFCell(4, tau_m_initializer=keras.initializers.Constant(10.0))  # a LeakyCell
        >>> cell.build((None, 3))
        >>> cell.tau_m.numpy()
        array([10., 10., 10., 10.], dtype=float32)
    """

    def __init__(
        self,
        units: int,
        threshold: float = 0.01,
        tau_m_initializer: InitializerLike = None,
        train_time_constants: bool = True,
        min_tau: float = 1.0,
        dt: float = 1.0,
        initial_potential: str = "zeros",
        detach_reset: bool = True,
        **kwargs: Any,
    ):
        kwargs.setdefault("kernel_initializer", "lecun_normal")
        super().__init__(units, **kwargs)
        owner = type(self).__name__
        self.detach_reset = check_bool(owner, "detach_reset", detach_reset)
        self.threshold = check_number(owner, "threshold", threshold)
        if tau_m_initializer is None:
            tau_m_initializer = keras.initializers.RandomNormal(mean=5.0, stddev=1.0)
        self.tau_m_initializer = keras.initializers.get(tau_m_initializer)
        self.train_time_constants = bool(train_time_constants)
        self.min_tau = check_number(owner, "min_tau", min_tau)
        self.dt = check_number(owner, "dt", dt)
        if initial_potential not in ("zeros", "uniform"):
            raise ValueError(f"{owner}: `initial_potential` must be 'zeros' or 'uniform', got {initial_potential!r}.")
        self.initial_potential = initial_potential

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.tau_m = add_time_constant(
            self, "tau_m", self.units, self.tau_m_initializer, self.min_tau, self.train_time_constants
        )

    def step_constants(self) -> tuple:
        """``(alpha,)``: the membrane's decay per step, ``alpha = exp(-dt / tau_m)``.

        Returns:
            A 1-tuple holding ``alpha``, shape (units,), in the cell's compute dtype.

        Examples:
            >>> cell = LIFCell(4, tau_m_initializer=keras.initializers.Constant(10.0))
            >>> cell.build((None, 3))
            >>> cell.step_constants()[0].numpy().round(4)  # exp(-1/10)
            array([0.9048, 0.9048, 0.9048, 0.9048], dtype=float32)
        """
        return (decay(self.dt, self.tau_m, self.compute_dtype),)

    def reset_spikes(self, spikes: tf.Tensor) -> tf.Tensor:
        """The previous spikes as the reset term of ``update`` uses them: without a gradient if ``detach_reset``.

        Args:
            spikes: ``s_{t-1}``, (batch, units).

        Returns:
            ``spikes``, or ``tf.stop_gradient(spikes)`` when ``detach_reset``; the same values.

        Examples:
            >>> cell = LIFCell(4)
            >>> s = tf.ones((1, 4))
            >>> with tf.GradientTape() as tape:
            ...     tape.watch(s)
            ...     kept = 2.0 * (1.0 - cell.reset_spikes(s))
            >>> print(tape.gradient(kept, s))
            None
        """
        return tf.stop_gradient(spikes) if self.detach_reset else spikes

    def get_initial_state(
        self, batch_size: int | tf.Tensor | None = None, inputs: tf.Tensor | None = None, dtype: Any = None
    ) -> list[tf.Tensor]:
        """All states at rest, except the potential when ``initial_potential="uniform"``: ``U[0, threshold]``.

        Args:
            batch_size: the number of sequences; if None, the first axis of ``inputs``.
            inputs: a batch of inputs whose first axis gives the batch size when ``batch_size`` is None.
            dtype: ignored: the states take the cell's compute dtype.

        Returns:
            One tensor of shape (batch_size, units) per name in ``state_names``, in the cell's compute
                dtype: zeros, except ``"potential"`` with ``initial_potential="uniform"``, drawn
                uniformly in ``[0, threshold)``.

        Examples:
            >>> cell = LIFCell(4, threshold=0.5, initial_potential="uniform")
            >>> [state.shape for state in cell.get_initial_state(batch_size=2)]
            [TensorShape([2, 4]), TensorShape([2, 4])]
        """
        batch_size = initial_batch_size(batch_size, inputs)
        states = super().get_initial_state(batch_size)
        if self.initial_potential == "uniform":
            index = self.state_names.index("potential")
            uniform = tf.random.uniform if LEGACY else keras.random.uniform  # tf-keras has no keras.random
            states[index] = uniform((batch_size, self.units), 0.0, self.threshold, dtype=self.compute_dtype)
        return states

    def get_config(self) -> dict[str, Any]:
        config = {
            "threshold": self.threshold,
            "tau_m_initializer": keras.initializers.serialize(self.tau_m_initializer),
            "train_time_constants": self.train_time_constants,
            "min_tau": self.min_tau,
            "dt": self.dt,
            "initial_potential": self.initial_potential,
            "detach_reset": self.detach_reset,
        }
        return {**super().get_config(), **config}
