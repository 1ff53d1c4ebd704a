import keras
import numpy as np
import pytest

from keras_spiking_rnn import (
    ALIFCell,
    GatedSpikingCell,
    LeakyIntegratorCell,
    LeakyReadout,
    LIFCell,
    SpikeCountReadout,
    SpikingRNN,
    surrogates,
)

CELLS = [
    lambda: LIFCell(5, reset="subtract", threshold=0.3, surrogate=surrogates.FastSigmoid(slope=7.0), recurrent=False),
    lambda: ALIFCell(
        5,
        adaptation=0.184,
        threshold=1.6,
        surrogate="arctan",
        initial_potential="uniform",
        tau_adp_initializer=keras.initializers.RandomNormal(200.0, 50.0),
        min_tau=2.0,
    ),
    lambda: GatedSpikingCell(5, levels=7, dead_zone=1, threshold=0.25, surrogate=surrogates.Linear(slope=2.0)),
    lambda: LeakyIntegratorCell(5, use_bias=False, dt=0.5),
]


@pytest.mark.parametrize("make", CELLS)
def test_cell_config_round_trip(make):
    cell = make()
    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is type(cell) and restored.get_config() == cell.get_config()


@pytest.mark.parametrize(
    "layer",
    [
        lambda: SpikingRNN(4, neuron="gated", levels=3, dead_zone=0, return_sequences=True, go_backwards=True),
        lambda: LeakyReadout(3, output_mode="mean", tau_m_initializer=keras.initializers.RandomNormal(3.0, 1.0)),
        lambda: SpikeCountReadout("mean"),
    ],
)
def test_layer_config_round_trip(layer):
    layer = layer()
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_saved_model_file_round_trip_gives_identical_outputs(tmp_path):
    inputs = keras.Input((None, 3))
    a = SpikingRNN(8, neuron="alif", surrogate=surrogates.MultiGaussian(sigma=0.3), return_sequences=True)(inputs)
    b = keras.layers.Bidirectional(SpikingRNN(6, neuron="lif", return_sequences=True))(a)
    c = SpikingRNN(neuron=GatedSpikingCell(5, levels=3, dead_zone=0), return_sequences=True)(b)
    d = keras.layers.RNN(ALIFCell(4), return_sequences=True)(c)
    scores = LeakyReadout(3, output_mode="mean")(d)
    counts = SpikeCountReadout()(d)
    model = keras.Model(inputs, [scores, counts])
    model.compile("adam", ["mse", "mse"])
    x = np.random.default_rng(0).normal(size=(4, 12, 3)).astype("float32")
    model.fit(x, [np.zeros((4, 3)), np.zeros((4, 4))], epochs=1, verbose=0)  # weights away from init
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for got, expected in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(got, expected)
    assert loaded.layers[1].cell.surrogate == surrogates.MultiGaussian(sigma=0.3)
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]


def test_weight_names_follow_keras():
    layer = SpikingRNN(3, neuron="alif")
    layer(np.zeros((1, 2, 2), "float32"))
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias", "tau_m", "tau_adp"]
