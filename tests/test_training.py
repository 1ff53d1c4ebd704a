"""Training on real data learns: a short fit on MNIST-1D (generated locally, 10 classes)."""

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.data import load_mnist1d, sliding_windows


@pytest.fixture(scope="module")
def mnist1d():
    (x, y), (x_test, y_test) = load_mnist1d()
    assert x.shape == (4000, 40, 1) and x_test.shape == (1000, 40, 1)
    assert sorted(np.unique(y)) == list(range(10))
    return (sliding_windows(x, 8), y), (sliding_windows(x_test, 8), y_test)


@pytest.mark.parametrize("neuron", ["alif", "lif", "gated"])
def test_short_fit_on_mnist1d_is_well_above_chance(mnist1d, neuron):
    (x, y), (x_test, y_test) = mnist1d
    model = keras.Sequential(
        [
            keras.Input((None, 8)),
            SpikingRNN(64, neuron=neuron, return_sequences=True),
            LeakyReadout(10, output_mode="mean"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    before = model.evaluate(x_test, y_test, verbose=0)[1]
    history = model.fit(x, y, batch_size=64, epochs=5, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy > 0.25 and accuracy > before + 0.15, (before, accuracy)  # chance is 0.1


def test_sliding_windows_sees_only_the_past():
    x = np.arange(1.0, 6.0).reshape(1, 5, 1)
    w = sliding_windows(x, 3)
    np.testing.assert_array_equal(w[0, 0], [0, 0, 1])
    np.testing.assert_array_equal(w[0, 4], [3, 4, 5])
    with pytest.raises(ValueError, match="size"):
        sliding_windows(x, 0)
    with pytest.raises(ValueError, match=r"\(batch, timesteps, 1\)"):
        sliding_windows(x[..., 0], 2)
