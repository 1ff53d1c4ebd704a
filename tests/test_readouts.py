import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyIntegratorCell, LeakyReadout, SpikeCountReadout
from tests import reference
from tests.conftest import weights_of


def test_leaky_integrator_matches_reference():
    readout = LeakyReadout(6, output_mode="sequence", dtype="float64")
    x = np.random.default_rng(0).normal(size=(4, 30, 5))
    got = keras.ops.convert_to_numpy(readout(x))
    w = weights_of(readout.cell)
    np.testing.assert_allclose(got, reference.run_leaky_integrator(x, w["kernel"], w["bias"], w["tau_m"]), rtol=1e-10)


@pytest.mark.parametrize("mode", ["last", "mean", "sequence"])
def test_output_modes(mode):
    x = np.random.default_rng(1).normal(size=(3, 12, 4)).astype("float32")
    sequence = LeakyReadout(5, output_mode="sequence")
    full = keras.ops.convert_to_numpy(sequence(x))
    layer = LeakyReadout(5, output_mode=mode)
    layer.build(x.shape)
    layer.set_weights(sequence.get_weights())
    got = keras.ops.convert_to_numpy(layer(x))
    expected = {"last": full[:, -1], "mean": full.mean(1), "sequence": full}[mode]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_mean_mode_ignores_masked_steps():
    x = np.random.default_rng(2).normal(size=(2, 10, 3)).astype("float32")
    x[0, 6:] = 0.0
    model = keras.Sequential([keras.Input((10, 3)), keras.layers.Masking(0.0), LeakyReadout(4, output_mode="mean")])
    short = keras.Sequential([keras.Input((6, 3)), LeakyReadout(4, output_mode="mean")])
    short.set_weights(model.get_weights())
    np.testing.assert_allclose(model(x)[0], short(x[:1, :6])[0], rtol=1e-5)


def test_spike_count_readout_sums_spikes_and_respects_masks():
    spikes = (np.random.default_rng(3).random((2, 8, 4)) < 0.3).astype("float32")
    np.testing.assert_array_equal(SpikeCountReadout()(spikes), spikes.sum(1))
    np.testing.assert_allclose(SpikeCountReadout("mean")(spikes), spikes.mean(1))
    mask = np.ones((2, 8), bool)
    mask[1, 5:] = False
    np.testing.assert_array_equal(SpikeCountReadout()(spikes, mask=mask)[1], spikes[1, :5].sum(0))


def test_bad_readout_arguments():
    with pytest.raises(ValueError, match="output_mode"):
        LeakyReadout(3, output_mode="max")
    with pytest.raises(ValueError, match="reduction"):
        SpikeCountReadout("max")
    with pytest.raises(ValueError, match="units"):
        LeakyIntegratorCell(0)
