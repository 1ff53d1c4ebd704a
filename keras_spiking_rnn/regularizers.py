"""Firing-rate regularization: keeps a spiking layer's activity near a target rate (sparser spikes, fewer ops)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_spiking_rnn._keras import keras


@keras.saving.register_keras_serializable(package="keras_spiking_rnn")
class FiringRateRegularizer(keras.regularizers.Regularizer):
    """Penalty ``strength * mean((rate - target)**2)`` on spikes per neuron and step.

    ``SpikingRNN(..., firing_rate_regularizer=FiringRateRegularizer(0.05))``
    applies it to the layer's spikes at every step, whatever
    ``return_sequences`` is. The rate counts a multi-level output of ``k``
    levels (the gated cell) as ``k`` spikes, so it is the mean output divided
    by the level height; for binary spikes it is the firing rate. The spikes'
    surrogate gradient carries the penalty to the weights.

    Args:
        target: the rate to keep, spikes per neuron and step (>= 0).
        strength: weight of the penalty in the loss (>= 0).
        per_neuron: penalize each neuron's rate (homeostasis: silent neurons
            are pushed up too) instead of the layer's mean rate.
        only_above: penalize only rates above ``target`` (an upper bound).

    Call: ``regularizer(spikes)`` with spikes (batch, time, units), scaled to
    spikes per step; returns a scalar, ``penalty(rates(spikes))``.

    Raises:
        ValueError: ``target`` or ``strength`` not a number >= 0.

    Examples:
        >>> layer = SpikingRNN(64, neuron="alif", return_sequences=True,
        ...                    firing_rate_regularizer=FiringRateRegularizer(target=0.05, strength=1.0))
        >>> round(float(FiringRateRegularizer(target=0.05)(tf.fill((2, 10, 4), 0.15))), 4)  # (0.15 - 0.05)**2
        0.01
    """

    def __init__(self, target: float = 0.05, strength: float = 1.0, per_neuron: bool = False, only_above: bool = False):
        for name, value in (("target", target), ("strength", strength)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"FiringRateRegularizer: `{name}` must be a number >= 0, got {value!r}.")
        self.target = float(target)
        self.strength = float(strength)
        self.per_neuron = bool(per_neuron)
        self.only_above = bool(only_above)

    def rates(self, spikes: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        """Spikes per step, averaged over batch and time (per neuron, shape (units,)) or over all (scalar).

        Args:
            spikes: tensor or array (batch, time, units), floating point, in spikes per step.
            mask: optional (batch, time) booleans; the masked (False) steps are left out.

        Returns:
            Tensor of shape (units,) with ``per_neuron``, else a scalar, in the dtype of ``spikes``.

        Examples:
            >>> spikes = np.array([[[1, 0], [1, 0], [0, 0], [1, 1]]], "float32")  # 4 steps, 2 neurons
            >>> FiringRateRegularizer(per_neuron=True).rates(spikes).numpy()
            array([0.75, 0.25], dtype=float32)
            >>> float(FiringRateRegularizer().rates(spikes, mask=np.array([[True, True, False, False]])))
            0.5
        """
        spikes = tf.convert_to_tensor(spikes)
        axes = list(range(spikes.shape.rank - 1))
        if mask is None:
            rates = tf.reduce_mean(spikes, axis=axes)
        else:
            weights = tf.cast(mask, spikes.dtype)[..., None]
            rates = tf.reduce_sum(spikes * weights, axis=axes) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return rates if self.per_neuron else tf.reduce_mean(rates)

    def penalty(self, rates: tf.Tensor) -> tf.Tensor:
        """``strength * mean((rates - target)**2)``, or only the excess above ``target`` with ``only_above``.

        Args:
            rates: the output of [`rates`][keras_spiking_rnn.FiringRateRegularizer.rates], (units,) or scalar.

        Returns:
            Scalar tensor in the dtype of ``rates``.

        Examples:
            >>> regularizer = FiringRateRegularizer(target=0.05, only_above=True)
            >>> round(float(regularizer.penalty(tf.constant([0.0, 0.15]))), 4)  # only 0.15 exceeds the target
            0.005
        """
        excess = rates - self.target
        if self.only_above:
            excess = tf.nn.relu(excess)
        return self.strength * tf.reduce_mean(tf.square(excess))

    def __call__(self, spikes):
        return self.penalty(self.rates(spikes))

    def get_config(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "strength": self.strength,
            "per_neuron": self.per_neuron,
            "only_above": self.only_above,
        }
