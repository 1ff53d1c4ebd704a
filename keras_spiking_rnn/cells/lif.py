"""Leaky integrate-and-fire (LIF) cell: Yin, Corradi & Bohté (2021), eqs. (2)-(4)."""

from __future__ import annotations

from typing import Any

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.cells.base import LeakyCell

_RESETS = ("zero", "subtract")


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class LIFCell(LeakyCell):
    """Recurrent layer of leaky integrate-and-fire neurons, one timestep at a time.

    With ``alpha = exp(-dt / tau_m)`` per neuron and
    ``I_t = x_t @ kernel + s_{t-1} @ recurrent_kernel + bias``:

    * ``reset="zero"`` (Yin et al. eq. 2, reset potential ``u_r = 0``):
      ``u_t = alpha * u_{t-1} * (1 - s_{t-1}) + (1 - alpha) * I_t``
    * ``reset="subtract"``:
      ``u_t = alpha * u_{t-1} + (1 - alpha) * I_t - threshold * s_{t-1}``
      (the same as [`ALIFCell`][keras_spiking_rnn.cells.ALIFCell] with ``adaptation=0``)
    * ``s_t = H(u_t - threshold)``, with the surrogate gradient in training.

    Eq. (3) of the paper decays by ``1 - 1/tau_m`` and scales the input by
    ``1/tau_m``; this cell uses ``alpha = exp(-dt/tau_m)`` and ``1 - alpha``,
    as the authors' code does. The two agree to first order in ``1/tau_m``,
    and ``exp`` keeps the decay in (0, 1) for every ``tau_m > 0``.

    The default threshold 0.01 is the ``b0`` of the authors' code, whose LIF
    layers are ALIF layers without adaptation.

    States, each (batch, units): ``potential`` ``u``, ``spikes`` ``s``.
    Output: ``s_t``, (batch, units), 0/1 in the compute dtype.

    Args:
        units: number of neurons.
        reset: ``"zero"`` (hard reset to 0) or ``"subtract"`` (soft reset).
        **kwargs: the arguments of [`LeakyCell`][keras_spiking_rnn.cells.LeakyCell]
            (``threshold``, ``tau_m_initializer``, ``train_time_constants``,
            ``min_tau``, ``dt``, ``initial_potential``) and of
            [`SpikingCell`][keras_spiking_rnn.cells.SpikingCell] (``surrogate``,
            ``recurrent``, ``use_bias``, initializers, regularizers).

    Raises:
        ValueError: ``reset`` neither ``"zero"`` nor ``"subtract"``, or an invalid argument of
            ``LeakyCell`` or ``SpikingCell`` (see there).

    Examples:
        >>> layer = keras.layers.RNN(LIFCell(32), return_sequences=True)
        >>> layer(np.zeros((4, 10, 3), "float32")).shape
        TensorShape([4, 10, 32])
    """

    state_names = ("potential", "spikes")

    def __init__(self, units: int, reset: str = "zero", **kwargs: Any):
        super().__init__(units, **kwargs)
        if reset not in _RESETS:
            raise ValueError(f"LIFCell: `reset` must be one of {_RESETS}, got {reset!r}.")
        self.reset = reset

    def update(self, current, states, constants) -> list:
        potential, spikes = states
        (alpha,) = constants
        if self.reset == "zero":
            potential = alpha * potential * (1.0 - spikes) + (1.0 - alpha) * current
        else:
            potential = alpha * potential + (1.0 - alpha) * current - self.threshold * spikes
        spikes = self.surrogate(potential - self.threshold)
        return [potential, spikes]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset": self.reset}
