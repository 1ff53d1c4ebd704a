"""Non-spiking leaky integrator: the readout neuron of Yin, Corradi & Bohté (2021)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

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


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class LeakyIntegratorCell(keras.layers.Layer):
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

    Example:
        >>> readout = keras.layers.RNN(LeakyIntegratorCell(10), return_sequences=True)
        >>> readout(np.ones((2, 5, 8), "float32")).shape
        TensorShape([2, 5, 10])
    """

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

    def project_inputs(self, inputs):
        """``inputs @ kernel + bias`` for one step (batch, features) or a sequence (batch, timesteps, features)."""
        return project(self, inputs, self.kernel, self.bias)

    def call(self, inputs, states, training=None):
        return self.step(self.project_inputs(inputs), states, training=training)

    output_state = 0  # the potential is the output; there is no recurrent kernel
    recurrent_kernel = None

    def step(self, projected, states, training=None):
        """One step from the projected inputs (batch, units); returns ``(u_t, [u_t])``."""
        new_states = self.update(projected, list(states), self.step_constants())
        return new_states[0], new_states

    def step_constants(self) -> tuple:
        """``(alpha,)``: the decay per step, (units,)."""
        return (decay(self.dt, self.tau_m, self.compute_dtype),)

    def update(self, current, states, constants) -> list:
        """``u_t = alpha * u_{t-1} + (1 - alpha) * current``."""
        (potential,) = states
        (alpha,) = constants
        return [alpha * potential + (1.0 - alpha) * current]

    def get_initial_state(self, batch_size=None, inputs=None, dtype=None):
        """The potential at rest: zeros of shape (batch_size, units) (tf-keras also passes ``inputs``, ``dtype``)."""
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
