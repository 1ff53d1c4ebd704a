"""The firing-rate regularizer: its penalty against NumPy, on every step whatever return_sequences, and its effect."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.regularizers import FiringRateRegularizer

X = np.random.default_rng(0).uniform(0, 2, size=(4, 15, 3)).astype("float32")


def twin_layers(neuron, regularizer, **kwargs):
    """A regularized layer returning only its last step, and an unregularized twin with the same weights."""
    layer = SpikingRNN(6, neuron=neuron, firing_rate_regularizer=regularizer, **kwargs)
    twin = SpikingRNN(6, neuron=neuron, return_sequences=True, **kwargs)
    layer.build(X.shape)
    twin.build(X.shape)
    twin.set_weights(layer.get_weights())
    return layer, twin


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("only_above", [False, True])
def test_penalty_matches_numpy(per_neuron, only_above):
    spikes = np.random.default_rng(1).integers(0, 2, size=(3, 7, 5)).astype("float32")
    regularizer = FiringRateRegularizer(target=0.4, strength=2.5, per_neuron=per_neuron, only_above=only_above)
    rates = spikes.mean(axis=(0, 1)) if per_neuron else spikes.mean()
    excess = rates - 0.4
    if only_above:
        excess = np.maximum(excess, 0.0)
    assert float(regularizer(spikes)) == pytest.approx(2.5 * np.mean(excess**2), rel=1e-6)


@pytest.mark.parametrize("neuron", ["lif", "alif", "gated"])
def test_layer_adds_the_penalty_of_every_step(neuron):
    layer, twin = twin_layers(neuron, FiringRateRegularizer(target=0.1, strength=3.0))
    layer(X)
    spikes = keras.ops.convert_to_numpy(twin(X))
    assert 0 < np.count_nonzero(spikes) < spikes.size
    if neuron == "gated":
        spikes = spikes / layer.cell.threshold  # a level-k output counts k spikes
    (loss,) = layer.losses
    assert float(loss) == pytest.approx(3.0 * (spikes.mean() - 0.1) ** 2, rel=1e-5)


def test_masked_steps_are_left_out():
    regularizer = FiringRateRegularizer(target=0.0, strength=1.0, per_neuron=True)
    model = keras.Sequential(
        [keras.Input((15, 3)), keras.layers.Masking(0.0), SpikingRNN(6, firing_rate_regularizer=regularizer)]
    )
    x = X.copy()
    x[:, 10:] = 0.0  # masked
    model(x)
    twin = SpikingRNN(6, return_sequences=True)
    twin.build(x.shape)
    twin.set_weights(model.layers[-1].get_weights())
    spikes = keras.ops.convert_to_numpy(twin(x[:, :10]))
    assert float(model.losses[0]) == pytest.approx(np.mean(spikes.mean(axis=(0, 1)) ** 2), rel=1e-5)


@pytest.mark.parametrize("neuron", ["alif", "gated"])
def test_fused_gradient_of_the_penalty_matches_autodiff(neuron):
    gradients = []
    for bptt in ("fused", "autodiff"):
        keras.utils.set_random_seed(3)
        layer = SpikingRNN(
            6, neuron=neuron, bptt=bptt, firing_rate_regularizer=FiringRateRegularizer(0.0, 1.0), dtype="float64"
        )
        with tf.GradientTape() as tape:
            layer(X.astype("float64"), training=True)
            loss = tf.add_n(layer.losses)
        gradients.append([g.numpy() for g in tape.gradient(loss, layer.trainable_weights)])
    for fused, autodiff in zip(*gradients):
        assert np.any(autodiff != 0)
        np.testing.assert_allclose(fused, autodiff, rtol=1e-8, atol=1e-12)


def test_training_lowers_the_firing_rate_and_config_round_trips(tmp_path):
    def rate_after_training(regularizer):
        keras.utils.set_random_seed(4)
        model = keras.Sequential(
            [
                keras.Input((15, 3)),
                SpikingRNN(16, return_sequences=True, firing_rate_regularizer=regularizer, name="alif"),
                LeakyReadout(2),
            ]
        )
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        y = (X[:, :, 0].mean(axis=1) > 1).astype("int64")
        model.fit(np.tile(X, (8, 1, 1)), np.tile(y, 8), epochs=15, batch_size=8, verbose=0)
        spikes = keras.Model(model.inputs, model.get_layer("alif").output)(X)
        return model, float(np.mean(keras.ops.convert_to_numpy(spikes)))

    _, free = rate_after_training(None)
    model, regularized = rate_after_training(FiringRateRegularizer(target=0.0, strength=10.0))
    assert regularized < 0.5 * free
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras").get_layer("alif").firing_rate_regularizer
    assert (
        isinstance(loaded, FiringRateRegularizer)
        and loaded.get_config() == model.get_layer("alif").firing_rate_regularizer.get_config()
    )


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="`target`"):
        FiringRateRegularizer(target=-0.1)
    with pytest.raises(ValueError, match="`strength`"):
        FiringRateRegularizer(strength="high")
    with pytest.raises(ValueError, match="firing_rate_regularizer"):
        SpikingRNN(4, firing_rate_regularizer=3)
