"""Non-spiking leaky integrator: the readout neuron of Yin, Corradi & Bohté (2021).

Everything about it: the float equation, its closed-form adjoint, its int8 step (one FULLY_CONNECTED with
``1 - alpha`` folded into the weights, a MUL and an ADD) and its operation count. ``LeakyReadout`` runs it.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_spiking_rnn import adjoints
from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import (
    InitializerLike,
    RegularizerLike,
    add_time_constant,
    check_number,
    check_positive_int,
    decay,
    initial_batch_size,
    input_dim,
    project,
)
from keras_spiking_rnn.cells.neuron import Neuron, register_neuron
from keras_spiking_rnn.int8.arithmetic import synaptic_current


@register_neuron("leaky_integrator")
class LeakyIntegratorCell(Neuron, keras.layers.Layer):
    """Leaky integrator without spikes, one timestep at a time.

    ``u_t = alpha * u_{t-1} + (1 - alpha) * (x_t @ kernel + bias)``, with
    ``alpha = exp(-dt / tau_m)`` per neuron. The output is ``u_t``, used as
    the class scores (logits) at step ``t``.

    State: ``potential`` ``u``, (batch, units), 0 at rest.
    Output: ``u_t``, (batch, units).

    Args:
        units: number of output neurons (e.g. classes).
        tau_m_initializer: initializer of ``tau_m``; default ``N(20, 5)``
            (Yin et al. Table S1; their TIMIT readout used ``N(3, 1)``).
        train_time_constants: whether ``tau_m`` is trainable.
        min_tau: the smallest value ``tau_m`` may take.
        dt: simulation time step.
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel``.
        bias_initializer: initializer of ``bias``.
        kernel_regularizer: regularizer of ``kernel``.
        bias_regularizer: regularizer of ``bias``.
        **kwargs: forwarded to ``keras.layers.Layer``.

    Raises:
        ValueError: ``units`` not a positive integer or ``min_tau``, ``dt`` not a finite number > 0;
            when built, a step shape that is not (batch, features) or a ``tau_m_initializer``
            whose draws average at or below ``min_tau``.
        TypeError: when called, inputs that are not floating point.

    Examples:
        >>> readout = keras.layers.RNN(LeakyIntegratorCell(10), return_sequences=True)
        >>> readout(np.ones((2, 5, 8), "float32")).shape
        TensorShape([2, 5, 10])
    """

    state_names = ("potential",)
    emits_spikes = False
    int8_state_sites = ("potential",)
    #: ``alpha * u`` and ``(1 - alpha) * I``: 2 MACs.
    neuron_update_operations = (2, 0)

    def __init__(
        self,
        units: int,
        tau_m_initializer: InitializerLike = None,
        train_time_constants: bool = True,
        min_tau: float = 1.0,
        dt: float = 1.0,
        use_bias: bool = True,
        kernel_initializer: InitializerLike = "glorot_uniform",
        bias_initializer: InitializerLike = "zeros",
        kernel_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("LeakyIntegratorCell", "units", units)
        if tau_m_initializer is None:
            tau_m_initializer = keras.initializers.RandomNormal(mean=20.0, stddev=5.0)
        self.tau_m_initializer = keras.initializers.get(tau_m_initializer)
        self.train_time_constants = bool(train_time_constants)
        self.min_tau = check_number("LeakyIntegratorCell", "min_tau", min_tau)
        self.dt = check_number("LeakyIntegratorCell", "dt", dt)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.state_size = [self.units]
        self.output_size = self.units

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(
            shape=(input_dim(self, input_shape), self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), name="bias", initializer=self.bias_initializer, regularizer=self.bias_regularizer
            )
        self.tau_m = add_time_constant(
            self, "tau_m", self.units, self.tau_m_initializer, self.min_tau, self.train_time_constants
        )

    #: The layer may project all timesteps at once before the time loop (see ``SpikingCell.projects_inputs``).
    projects_inputs: bool = True

    def project_inputs(self, inputs: tf.Tensor) -> tf.Tensor:
        """The input current ``inputs @ kernel + bias``, for one step or for a whole sequence.

        Args:
            inputs: one step (batch, features) or a sequence (batch, timesteps, features),
                a floating-point tensor.

        Returns:
            Tensor of shape (..., units) in the dtype of ``inputs``, with the leading axes of ``inputs``.

        Raises:
            TypeError: ``inputs`` not floating point.

        Examples:
            >>> cell = LeakyIntegratorCell(10)
            >>> cell.build((None, 8))
            >>> cell.project_inputs(tf.ones((2, 5, 8))).shape
            TensorShape([2, 5, 10])
        """
        return project(self, inputs, self.kernel, self.bias)

    def call(self, inputs, states, training=None):
        return self.step(self.project_inputs(inputs), states, training=training)

    output_state = 0  # the potential is the output; there is no recurrent kernel
    recurrent_kernel = None

    def step(
        self, projected: tf.Tensor, states: list[tf.Tensor], training: bool | None = None
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """One step from the projected inputs: the leaky integration of the potential (``update``).

        Args:
            projected: this step's ``inputs @ kernel + bias``, (batch, units).
            states: ``[u_{t-1}]``, the potential of the previous step, (batch, units).
            training: Keras's training flag; not used.

        Returns:
            ``(u_t, [u_t])``: the new potential, (batch, units), as the output and as the only state.

        Examples:
            >>> cell = LeakyIntegratorCell(10, tau_m_initializer=keras.initializers.Constant(10.0))
            >>> cell.build((None, 8))
            >>> output, states = cell.step(tf.ones((2, 10)), cell.get_initial_state(batch_size=2))
            >>> output.numpy()[0, :3].round(4)  # (1 - exp(-1/10)) * 1
            array([0.0952, 0.0952, 0.0952], dtype=float32)
        """
        new_states = self.update(projected, list(states), self.step_constants())
        return new_states[0], new_states

    def step_constants(self) -> tuple:
        """``(alpha,)``: the decay of the potential per step, ``alpha = exp(-dt / tau_m)``.

        Returns:
            A 1-tuple holding ``alpha``, shape (units,), in the cell's compute dtype.

        Examples:
            >>> cell = LeakyIntegratorCell(10, tau_m_initializer=keras.initializers.Constant(10.0))
            >>> cell.build((None, 8))
            >>> cell.step_constants()[0].numpy()[:3].round(4)  # exp(-1/10)
            array([0.9048, 0.9048, 0.9048], dtype=float32)
        """
        return (decay(self.dt, self.tau_m, self.compute_dtype),)

    def update(self, current: tf.Tensor, states: list[tf.Tensor], constants: tuple) -> list:
        """The leaky integration ``u_t = alpha * u_{t-1} + (1 - alpha) * current``.

        Args:
            current: ``x_t @ kernel + bias``, (batch, units).
            states: ``[u_{t-1}]``, (batch, units).
            constants: ``(alpha,)`` from [`step_constants`][keras_spiking_rnn.cells.LeakyIntegratorCell.step_constants].

        Returns:
            ``[u_t]``, one tensor of shape (batch, units).

        Examples:
            >>> cell = LeakyIntegratorCell(10, tau_m_initializer=keras.initializers.Constant(10.0))
            >>> cell.build((None, 8))
            >>> states = cell.get_initial_state(batch_size=2)
            >>> cell.update(tf.ones((2, 10)), states, cell.step_constants())[0].numpy()[0, :3].round(4)
            array([0.0952, 0.0952, 0.0952], dtype=float32)
        """
        (potential,) = states
        (alpha,) = constants
        return [alpha * potential + (1.0 - alpha) * current]

    def adjoint(self, d_outputs, d_final, sequence, recurrent, constants, previous, stored, jit_compile):
        """Closed-form BPTT of ``u_t = alpha u_{t-1} + (1 - alpha) x_t`` (see ``keras_spiking_rnn.bptt``)."""
        (alpha,) = constants

        def step(t, from_potential):
            d_potential = from_potential + d_outputs[t]
            return (alpha * d_potential,), (d_potential,)

        d_initial, per_step = adjoints.reverse_loop(tf.shape(sequence)[0], step, d_final, sequence.dtype, jit_compile)
        d_potential = per_step[:, 0]
        d_alpha = tf.reduce_sum(d_potential * (previous[0] - sequence), axis=[0, 1])
        return (1.0 - alpha) * d_potential, None, [d_alpha], d_initial

    def int8_parameters(self, numerics) -> dict[str, Any]:
        """``alpha`` (units,), and ``synapse_scale = 1 - alpha`` folded into the weights."""
        alpha = numerics.decay(self.dt, self.tau_m)
        return {"synapse_scale": 1.0 - alpha, "alpha": alpha}

    def int8_sites(self) -> tuple[str, ...]:
        return ("current", "potential_decay", "potential")  # one FULLY_CONNECTED: its output is the current

    def int8_step(self, x, states, parameters, ops) -> list:
        """One step in the int8 model's op order, ``u = alpha u + x @ kernel' + bias'``."""
        (potential,) = states
        alpha = ops.constant(parameters["alpha"])
        current = synaptic_current(x, None, ops.synapse(), ops.quantize)
        decayed = ops.quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
        return [ops.quantize("potential", decayed + current)]

    def get_initial_state(
        self, batch_size: int | tf.Tensor | None = None, inputs: tf.Tensor | None = None, dtype: Any = None
    ) -> list[tf.Tensor]:
        """The potential at rest: zeros of shape (batch_size, units).

        Args:
            batch_size: the number of sequences; if None, the first axis of ``inputs``.
            inputs: a batch of inputs whose first axis gives the batch size when ``batch_size`` is None
                (tf-keras passes it).
            dtype: ignored: the state takes the cell's compute dtype.

        Returns:
            ``[zeros]``, one tensor of shape (batch_size, units) in the cell's compute dtype.

        Examples:
            >>> [state.shape for state in LeakyIntegratorCell(10).get_initial_state(batch_size=2)]
            [TensorShape([2, 10])]
        """
        batch_size = initial_batch_size(batch_size, inputs)
        return [tf.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "tau_m_initializer": keras.initializers.serialize(self.tau_m_initializer),
            "train_time_constants": self.train_time_constants,
            "min_tau": self.min_tau,
            "dt": self.dt,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        }
        return {**super().get_config(), **config}
