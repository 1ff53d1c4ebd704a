"""Firing rates of the spiking layers: measured on data, and logged during ``fit`` by a callback."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_spiking_rnn._keras import keras
from keras_spiking_rnn.analysis.recording import spiking_layers
from keras_spiking_rnn.graph import trace_layers


@dataclasses.dataclass(frozen=True)
class LayerActivity:
    """One spiking layer's activity on some data.

    Attributes:
        name: the layer's name.
        rates: per neuron, the fraction of steps with a non-zero output (mean spike probability per step), (units,).
        zero_fraction: the fraction of all outputs (samples x steps x neurons) that are zero.

    Examples:
        >>> activity = LayerActivity("alif", rates=np.array([0.0, 0.25, 0.5]), zero_fraction=0.75)
        >>> activity.mean_rate, activity.silent_neurons
        (0.25, 1)
    """

    name: str
    rates: np.ndarray
    zero_fraction: float

    @property
    def mean_rate(self) -> float:
        """The layer's mean firing rate, spikes (non-zero outputs) per neuron and step."""
        return float(np.mean(self.rates))

    @property
    def silent_neurons(self) -> int:
        """Neurons that never fired on the data."""
        return int(np.count_nonzero(self.rates == 0))


def firing_rates(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> dict[str, LayerActivity]:
    """Measures every spiking layer's firing rate per neuron and its fraction of zero outputs on ``x``.

    A step's output counts as a spike when it is non-zero, so a multi-level
    output (gated cell) counts once whatever its level.

    Args:
        model: a model with ``SpikingRNN`` layers that return sequences.
        x: inputs (batch, timesteps, features).
        batch_size: batch size of the inference run.

    Returns:
        ``{layer name: LayerActivity}`` in the model's order: per layer, the rates, (units,) float64,
            and the fraction of zero outputs (see [`LayerActivity`][keras_spiking_rnn.analysis.activity.LayerActivity]).

    Raises:
        ValueError: the model has no ``SpikingRNN`` layer, or one returns only its last step.

    Examples:
        >>> activity = firing_rates(model, x_test[:256])
        >>> {name: a.mean_rate for name, a in activity.items()}
        {'alif_1': 0.116, 'alif_2': 0.151}
    """
    layers = spiking_layers(model)
    if not layers:
        raise ValueError(f"firing_rates: model {model.name!r} has no spiking recurrent layer (SpikingRNN).")
    for layer in layers:
        if not layer.return_sequences:
            raise ValueError(
                f"firing_rates: layer {layer.name!r} returns only its last step; measure rates on a model whose "
                "spiking layers have `return_sequences=True` (e.g. a copy with that setting and the same weights)."
            )
    traced, probe, _ = trace_layers(model, np.shape(x)[-1], "firing_rates")
    spikes_of = [probe.outputs[2 * traced.index(layer) + 1] for layer in layers]  # each layer's output
    outputs = keras.Model(probe.inputs, spikes_of).predict(x, batch_size=batch_size, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    activity = {}
    for layer, spikes in zip(layers, outputs):
        fired = np.asarray(spikes) != 0
        activity[layer.name] = LayerActivity(
            layer.name, fired.reshape(-1, fired.shape[-1]).mean(axis=0), float(1.0 - fired.mean())
        )
    return activity


class FiringRateMonitor(keras.callbacks.Callback):
    """Logs each spiking layer's mean firing rate on a data sample at the end of every epoch.

    The values enter the epoch's logs, so Keras's progress bar prints them and
    ``history.history`` keeps them: ``firing_rate/<layer>`` (spikes per
    neuron and step) and ``silent/<layer>`` (neurons that never fired on the
    sample).

    Args:
        x: a sample of inputs (batch, timesteps, features), e.g. 256 validation sequences.
        every: measure every ``every`` epochs.
        batch_size: batch size of the measuring run.

    Raises:
        ValueError: ``x`` not 3-D, or ``every`` not an integer >= 1.

    Examples:
        >>> history = model.fit(x, y, epochs=10, callbacks=[FiringRateMonitor(x_val[:256])])
        >>> history.history["firing_rate/alif_1"]  # one mean rate per epoch
    """

    def __init__(self, x: np.ndarray, every: int = 1, batch_size: int = 256):
        super().__init__()
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"FiringRateMonitor: `x` must be (batch, timesteps, features), got shape {x.shape}.")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"FiringRateMonitor: `every` must be an integer >= 1, got {every!r}.")
        self.x = x
        self.every = every
        self.batch_size = batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None or (epoch + 1) % self.every:
            return
        for name, activity in firing_rates(self.model, self.x, self.batch_size).items():
            logs[f"firing_rate/{name}"] = activity.mean_rate
            logs[f"silent/{name}"] = activity.silent_neurons
