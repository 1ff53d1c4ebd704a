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

    Call: ``regularizer(rates_or_spikes)`` with spikes (batch, time, units),
    scaled to spikes per step; returns a scalar.

    Example:
        >>> layer = SpikingRNN(64, neuron="alif", return_sequences=True,
        ...                    firing_rate_regularizer=FiringRateRegularizer(target=0.05, strength=1.0))
    """

    def __init__(self, target: float = 0.05, strength: float = 1.0, per_neuron: bool = False, only_above: bool = False):
        for name, value in (("target", target), ("strength", strength)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"FiringRateRegularizer: `{name}` must be a number >= 0, got {value!r}.")
        self.target = float(target)
        self.strength = float(strength)
        self.per_neuron = bool(per_neuron)
        self.only_above = bool(only_above)

    def rates(self, spikes, mask=None):
        """Spikes per step, averaged over batch and time (per neuron, shape (units,)) or over all (scalar).

        ``mask`` (batch, time), if given, leaves the masked steps out.
        """
        spikes = tf.convert_to_tensor(spikes)
        axes = list(range(spikes.shape.rank - 1))
        if mask is None:
            rates = tf.reduce_mean(spikes, axis=axes)
        else:
            weights = tf.cast(mask, spikes.dtype)[..., None]
            rates = tf.reduce_sum(spikes * weights, axis=axes) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return rates if self.per_neuron else tf.reduce_mean(rates)

    def penalty(self, rates):
        """``strength * mean((rates - target)**2)``, or only the excess above ``target`` with ``only_above``."""
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
