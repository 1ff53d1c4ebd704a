"""Firing rates per layer and neuron against the layers' own outputs, and the callback's logs in fit."""

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.analysis import record_states
from keras_spiking_rnn.analysis.activity import FiringRateMonitor, firing_rates

X = np.random.default_rng(0).uniform(0, 2, size=(6, 12, 3)).astype("float32")
Y = np.arange(6) % 2


def model_of_two_layers():
    return keras.Sequential(
        [
            keras.Input((None, 3)),
            SpikingRNN(8, neuron="alif", return_sequences=True, name="first"),
            SpikingRNN(5, neuron="gated", return_sequences=True, name="second"),
            LeakyReadout(2),
        ]
    )


def test_rates_and_zero_fractions_match_the_layer_outputs(tmp_path):
    model = model_of_two_layers()
    first = keras.ops.convert_to_numpy(model.get_layer("first")(X))
    second = keras.ops.convert_to_numpy(model.get_layer("second")(first))
    activity = firing_rates(model, X)
    assert list(activity) == ["first", "second"]
    for name, outputs in (("first", first), ("second", second)):
        fired = outputs != 0
        assert 0 < fired.sum() < fired.size
        np.testing.assert_allclose(activity[name].rates, [fired[..., i].mean() for i in range(fired.shape[-1])])
        assert activity[name].zero_fraction == pytest.approx(1 - fired.mean())
        assert activity[name].mean_rate == pytest.approx(fired.mean())
        assert activity[name].silent_neurons == int(np.sum(fired.sum(axis=(0, 1)) == 0))
    model.save(tmp_path / "m.keras")  # a loaded Sequential model has several call nodes per layer
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(firing_rates(reloaded, X)["second"].rates, activity["second"].rates)
    np.testing.assert_array_equal(record_states(reloaded, X, "second")["output"], second)


def test_monitor_logs_rates_into_history():
    model = model_of_two_layers()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(X, Y, epochs=4, verbose=0, callbacks=[FiringRateMonitor(X, every=2)])
    assert set(history.history) >= {"firing_rate/first", "firing_rate/second", "silent/first"}
    assert len(history.history["firing_rate/first"]) == 2  # epochs 2 and 4, with every=2
    assert history.history["firing_rate/first"][-1] == pytest.approx(firing_rates(model, X)["first"].mean_rate)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no spiking recurrent layer"):
        firing_rates(keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4)]), X)
    last_only = keras.Sequential([keras.Input((None, 3)), SpikingRNN(4, name="last"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="'last' returns only its last step"):
        firing_rates(last_only, X)
    with pytest.raises(ValueError, match="`every`"):
        FiringRateMonitor(X, every=0)
    with pytest.raises(ValueError, match="`x`"):
        FiringRateMonitor(X[0])
