"""Operation counts against hand counts on tiny networks whose spike trains are known, and the energy model."""

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, SpikeCountReadout, SpikingRNN
from keras_spiking_rnn.analysis import operations as ops
from keras_spiking_rnn.analysis.report import count_operations

# A known spike train: batch 1, 4 steps, 2 input channels, 3 spikes in all.
SPIKES_IN = np.array([[[1, 0], [0, 0], [1, 1], [0, 0]]], dtype="float32")


def lif_with_known_spikes(readout_mode="last", dense=True):
    """LIF layer of 3 neurons: neurons 0 and 1 fire at every step (bias +100), neuron 2 never (bias -100)."""
    stack = [
        keras.Input((None, 2)),
        SpikingRNN(3, neuron="lif", return_sequences=True, name="lif"),
        LeakyReadout(2, output_mode=readout_mode, name="readout"),
    ]
    if dense:
        stack.append(keras.layers.Dense(5, name="dense"))
    model = keras.Sequential(stack)
    cell = model.get_layer("lif").cell
    cell.kernel.assign(np.zeros(cell.kernel.shape))
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape))
    cell.bias.assign([100.0, 100.0, -100.0])
    return model


def test_lif_network_with_known_spike_trains_matches_hand_count():
    model = lif_with_known_spikes()
    spikes = keras.ops.convert_to_numpy(model.get_layer("lif")(SPIKES_IN))
    np.testing.assert_array_equal(spikes[0], [[1, 1, 0]] * 4)  # the spike train the hand count assumes

    report = count_operations(model, SPIKES_IN, input_kind="spikes")
    lif, readout, dense = report.layers
    # LIF, per step: 3 input spikes x 3 synapses / 4 steps = 2.25 ACs; bias 3 ACs; recurrent: neurons 0, 1 fire at
    # steps 0..2, which reach the next step: 6 spikes x 3 synapses / 4 = 4.5 ACs; update 2 MACs x 3 neurons.
    assert (lif.macs_per_step, lif.acs_per_step) == (6.0, 2.25 + 3 + 4.5)
    assert lif.nonzero_output_rate == pytest.approx(2 / 3)
    # readout: 8 spikes x 2 synapses / 4 steps = 4 ACs, bias 2 ACs; update 2 MACs x 2 neurons
    assert (readout.macs_per_step, readout.acs_per_step) == (4.0, 6.0)
    # Dense(5) on the last step's 2 real numbers, once per 4-step sequence: (2 + 1) x 5 MACs / 4
    assert (dense.macs_per_step, dense.acs_per_step) == (15 / 4, 0.0)
    assert report.macs_per_step == 6 + 4 + 3.75
    assert report.parameters == model.count_params()
    assert report.macs_per_sequence == pytest.approx(4 * report.macs_per_step)
    assert report.energy_per_step_pj() == pytest.approx(3.1 * 13.75 + 0.1 * 15.75)


def test_dense_inputs_cost_a_mac_per_weight_and_mean_readout_an_accumulate():
    model = lif_with_known_spikes(readout_mode="mean", dense=False)
    real = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    lif, readout = count_operations(model, real).layers
    # 2 real inputs x 3 synapses = 6 MACs, + 6 update MACs; ACs: bias 3 + recurrent 4.5 (the spikes do not
    # depend on the input: zero input weights)
    assert (lif.macs_per_step, lif.acs_per_step) == (12.0, 7.5)
    assert readout.acs_per_step == 4 + 2 + 2  # spikes, bias, and the running sum of the mean


def test_spike_counts_cost_one_accumulate_per_spike():
    counts = np.array([[[2, 0], [0, 3]]], dtype="float32")  # 5 spikes in 2 steps
    assert ops.synapse_operations(counts, "spikes", fan_out=4) == ops.Operations(0.0, 5 * 4 / 2)
    assert ops.synapse_operations(counts, "binary", fan_out=4) == ops.Operations(0.0, 2 * 4 / 2)
    assert ops.synapse_operations(counts, "multilevel", fan_out=4) == ops.Operations(2 * 4 / 2, 0.0)
    assert ops.synapse_operations(counts, "dense", fan_out=4) == ops.Operations(2 * 4, 0.0)
    with pytest.raises(ValueError, match="spike counts"):
        ops.synapse_operations(counts - 0.5, "spikes", fan_out=4)
    with pytest.raises(ValueError, match="`kind`"):
        ops.synapse_operations(counts, "sparse", fan_out=4)


def test_gated_outputs_cost_a_mac_per_nonzero_level_and_its_update_four_macs():
    model = keras.Sequential(
        [
            keras.Input((None, 3)),
            SpikingRNN(4, neuron="gated", return_sequences=True, name="gated"),
            LeakyReadout(2, name="readout"),
        ]
    )
    x = np.random.default_rng(1).uniform(0, 3, size=(5, 6, 3)).astype("float32")
    outputs = keras.ops.convert_to_numpy(model.get_layer("gated")(x))
    nonzero = np.count_nonzero(outputs)
    assert 0 < nonzero < outputs.size
    previous = np.count_nonzero(outputs[:, :-1])
    gated, readout = count_operations(model, x).layers
    steps = 5 * 6
    # 3 real inputs x 8 gate units; recurrent: each non-zero level reaches 8 gate units; update 4 MACs x 4
    assert gated.macs_per_step == pytest.approx(3 * 8 + previous * 8 / steps + 16)
    assert gated.acs_per_step == pytest.approx(8 + 2 * 4)  # bias of 8 gate units, 2 additions per neuron
    assert readout.macs_per_step == pytest.approx(nonzero * 2 / steps + 2 * 2)


def test_binary_gated_outputs_are_accumulates():
    model = keras.Sequential(
        [keras.Input((None, 3)), SpikingRNN(4, neuron="gated", levels=1, dead_zone=0, return_sequences=True)]
    )
    x = np.random.default_rng(2).uniform(0, 3, size=(2, 5, 3)).astype("float32")
    (gated,) = count_operations(model, x).layers
    assert gated.macs_per_step == 3 * 8 + 16  # dense input and update only: the recurrent spikes are ACs


def test_lstm_gru_and_simple_rnn_counts_follow_their_weight_counts():
    x = np.zeros((1, 3, 8), "float32")
    for layer, extra in ((keras.layers.LSTM(16), 8), (keras.layers.GRU(16), 6), (keras.layers.SimpleRNN(16), 1)):
        model = keras.Sequential([keras.Input((None, 8)), layer])
        (counted,) = count_operations(model, x).layers
        # one MAC per weight and bias per step, plus the elementwise products and nonlinearities per unit
        assert counted.macs_per_step == layer.count_params() + extra * 16
        assert counted.kind == type(layer).__name__
    assert ops.lstm_operations(8, 128).macs == 4 * (8 + 128 + 1) * 128 + 8 * 128
    assert ops.gru_operations(8, 128, reset_after=False).macs == 3 * (8 + 128 + 1) * 128 + 6 * 128
    with pytest.raises(ValueError, match="`units`"):
        ops.lstm_operations(8, 0)


def test_loaded_sequential_and_functional_models_count_the_same(tmp_path):
    model = lif_with_known_spikes()
    expected = count_operations(model, SPIKES_IN, input_kind="spikes")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # several call nodes per layer
    assert count_operations(loaded, SPIKES_IN, input_kind="spikes") == expected
    inputs = keras.Input((None, 2))
    lif = SpikingRNN(3, neuron="lif", return_sequences=True, name="lif")
    readout, dense = LeakyReadout(2, output_mode="last", name="readout"), keras.layers.Dense(5, name="dense")
    hidden = keras.layers.Dropout(0.5, name="dropout")(lif(inputs))  # pass-through: still spikes
    functional = keras.Model(inputs, dense(readout(hidden)))
    for name in ("lif", "readout", "dense"):
        functional.get_layer(name).set_weights(model.get_layer(name).get_weights())
    got = count_operations(functional, SPIKES_IN, input_kind="spikes")
    assert [layer for layer in got.layers if layer.name != "dropout"] == list(expected.layers)


def test_last_step_spiking_layer_is_counted_over_all_steps():
    model = lif_with_known_spikes()
    last_only = keras.Sequential(
        [keras.Input((None, 2)), SpikingRNN(3, neuron="lif", name="lif"), keras.layers.Dense(5, name="dense")]
    )
    last_only.get_layer("lif").set_weights(model.get_layer("lif").get_weights())
    lif, dense = count_operations(last_only, SPIKES_IN, input_kind="spikes").layers
    assert (lif.macs_per_step, lif.acs_per_step) == (6.0, 9.75)
    assert dense.acs_per_step == pytest.approx((2 * 5 + 5) / 4)  # 2 spikes of the last step, bias, per sequence


def test_spike_count_readout_accumulates_each_spike():
    model = keras.Sequential(
        [keras.Input((None, 2)), SpikingRNN(3, neuron="lif", return_sequences=True, name="lif"), SpikeCountReadout()]
    )
    model.get_layer("lif").set_weights(lif_with_known_spikes().get_layer("lif").get_weights())
    _, count = count_operations(model, SPIKES_IN, input_kind="spikes").layers
    assert (count.macs_per_step, count.acs_per_step) == (0.0, 2.0)  # 8 spikes in 4 steps, one AC each


def test_energy_model_and_errors():
    assert ops.energy_pj(1000, 10_000) == pytest.approx(4100.0)
    assert ops.Operations(10, 100).energy_pj(mac_pj=4.6, ac_pj=0.9) == pytest.approx(136.0)
    with pytest.raises(ValueError, match="`acs`"):
        ops.energy_pj(1, -1)
    model = lif_with_known_spikes()
    with pytest.raises(ValueError, match="`input_kind`"):
        count_operations(model, SPIKES_IN, input_kind="events")
    with pytest.raises(ValueError, match="`x`"):
        count_operations(model, SPIKES_IN[0])
    conv = keras.Sequential([keras.Input((4, 2)), keras.layers.Conv1D(3, 2)])
    with pytest.raises(ValueError, match="Conv1D"):
        count_operations(conv, SPIKES_IN)
    table = count_operations(model, SPIKES_IN, input_kind="spikes").to_markdown()
    assert "| lif | LIFCell | 21 | 6 | 10 |" in table and "theoretical" in table.lower()
