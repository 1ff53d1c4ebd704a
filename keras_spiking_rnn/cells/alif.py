"""Adaptive leaky integrate-and-fire (ALIF) cell: Yin, Corradi & Bohté (2021), eqs. (5)-(8)."""

from __future__ import annotations

from typing import Any

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import InitializerLike, LeakyCell, add_time_constant, check_number, decay


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class ALIFCell(LeakyCell):
    """Recurrent layer of adaptive LIF neurons with trainable time constants.

    Per neuron, with ``alpha = exp(-dt / tau_m)``, ``rho = exp(-dt / tau_adp)``
    and ``I_t = x_t @ kernel + s_{t-1} @ recurrent_kernel + bias``
    (eqs. 5-8 of Yin et al. 2021, as in the authors' code):

        eta_t   = rho * eta_{t-1} + (1 - rho) * s_{t-1}
        theta_t = threshold + adaptation * eta_t
        u_t     = alpha * u_{t-1} + (1 - alpha) * I_t - theta_t * s_{t-1}
        s_t     = H(u_t - theta_t)

    The reset subtracts the threshold after a spike; each spike raises the
    threshold, which relaxes back with ``tau_adp``. ``adaptation=0`` gives a
    LIF neuron with soft reset. The defaults ``threshold=0.01`` (``b0``) and
    ``adaptation=1.8`` (``beta``) are the paper's (SHD, SSC, S-MNIST); its
    code uses ``b0=1.6, beta=0.184`` for GSC and TIMIT.

    The state keeps the adaptation trace ``eta`` (0 at rest), not the
    threshold, so that every state rests at zero.

    States, each (batch, units): ``potential`` ``u``, ``adaptation`` ``eta``,
    ``spikes`` ``s``. Output: ``s_t``, (batch, units).

    Args:
        units: number of neurons.
        adaptation: ``beta``, the threshold increase per unit of ``eta`` (>= 0).
        tau_adp_initializer: initializer of ``tau_adp``; default ``N(150, 10)``
            (Yin et al. Table S1, SHD; S-MNIST used ``N(200, 50)``).
        **kwargs: the arguments of [`LeakyCell`][keras_spiking_rnn.cells.LeakyCell]
            (``threshold``, ``tau_m_initializer``, ``train_time_constants``,
            ``min_tau``, ``dt``, ``initial_potential``) and of
            [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell] (``surrogate``,
            ``recurrent``, ``use_bias``, initializers, regularizers).

    Raises:
        ValueError: ``adaptation`` not a finite number >= 0; when built, a ``tau_adp_initializer``
            whose draws average at or below ``min_tau``; or an invalid argument of ``LeakyCell`` or
            ``SpikingCell`` (see there).

    Examples:
        >>> layer = keras.layers.RNN(ALIFCell(64), return_sequences=True)
        >>> layer(np.zeros((2, 50, 40), "float32")).shape
        TensorShape([2, 50, 64])
    """

    state_names = ("potential", "adaptation", "spikes")

    def __init__(
        self,
        units: int,
        adaptation: float = 1.8,
        tau_adp_initializer: InitializerLike = None,
        **kwargs: Any,
    ):
        super().__init__(units, **kwargs)
        self.adaptation = check_number("ALIFCell", "adaptation", adaptation, strict=False)
        if tau_adp_initializer is None:
            tau_adp_initializer = keras.initializers.RandomNormal(mean=150.0, stddev=10.0)
        self.tau_adp_initializer = keras.initializers.get(tau_adp_initializer)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.tau_adp = add_time_constant(
            self, "tau_adp", self.units, self.tau_adp_initializer, self.min_tau, self.train_time_constants
        )

    def step_constants(self) -> tuple:
        """``(alpha, rho)``: the decays of the membrane and of the adaptation per step.

        ``alpha = exp(-dt / tau_m)`` and ``rho = exp(-dt / tau_adp)``.

        Returns:
            A 2-tuple of tensors of shape (units,), in the cell's compute dtype.

        Examples:
            >>> cell = ALIFCell(
            ...     4,
            ...     tau_m_initializer=keras.initializers.Constant(10.0),
            ...     tau_adp_initializer=keras.initializers.Constant(100.0),
            ... )
            >>> cell.build((None, 3))
            >>> alpha, rho = cell.step_constants()
            >>> round(float(alpha[0]), 4), round(float(rho[0]), 4)  # exp(-1/10), exp(-1/100)
            (0.9048, 0.99)
        """
        return (decay(self.dt, self.tau_m, self.compute_dtype), decay(self.dt, self.tau_adp, self.compute_dtype))

    def update(self, current, states, constants) -> list:
        potential, eta, spikes = states
        alpha, rho = constants
        eta = rho * eta + (1.0 - rho) * spikes
        theta = self.threshold + self.adaptation * eta
        potential = alpha * potential + (1.0 - alpha) * current - theta * spikes
        spikes = self.surrogate(potential - theta)
        return [potential, eta, spikes]

    def get_config(self) -> dict[str, Any]:
        config = {
            "adaptation": self.adaptation,
            "tau_adp_initializer": keras.initializers.serialize(self.tau_adp_initializer),
        }
        return {**super().get_config(), **config}
