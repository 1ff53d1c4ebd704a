import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_spiking_rnn import ALIFCell, SpikingRNN
from tests import reference
from tests.conftest import random_cell, step_through, weights_of


def make_cell(units, inputs, seed, **kwargs):
    return random_cell(ALIFCell, units, inputs, seed, kernel_std=1.0, **kwargs)


@settings(max_examples=8, deadline=None)
@given(
    units=st.integers(1, 12),
    recurrent=st.booleans(),
    threshold=st.sampled_from([0.01, 0.1, 1.6]),
    adaptation=st.sampled_from([0.0, 0.184, 1.8]),
    tau_m=st.floats(2.0, 40.0),
    tau_adp=st.floats(5.0, 300.0),
    seed=st.integers(0, 2**16),
)
def test_matches_numpy_reference_step_by_step(units, recurrent, threshold, adaptation, tau_m, tau_adp, seed):
    cell = make_cell(
        units,
        3,
        seed,
        recurrent=recurrent,
        threshold=threshold,
        adaptation=adaptation,
        tau_m_initializer=keras.initializers.RandomNormal(tau_m, 0.2 * tau_m),
        tau_adp_initializer=keras.initializers.RandomNormal(tau_adp, 0.2 * tau_adp),
    )
    x = np.random.default_rng(seed + 1).normal(0, 1.0, (4, 60, 3))
    w = weights_of(cell)
    ref = reference.run_alif(
        x, w["kernel"], w.get("recurrent_kernel"), w["bias"], w["tau_m"], w["tau_adp"], threshold, adaptation
    )
    got = step_through(cell, x)
    np.testing.assert_array_equal(got["spikes"], ref["spikes"])
    np.testing.assert_allclose(got["potential"], ref["potential"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["adaptation"], ref["adaptation"], rtol=1e-9, atol=1e-12)


def test_whole_sequence_layer_matches_reference_and_spikes_are_nontrivial():
    cell = make_cell(16, 5, seed=3)
    layer = SpikingRNN(neuron=cell, return_sequences=True, return_state=True, dtype="float64")
    x = np.random.default_rng(7).normal(0, 1.0, (8, 200, 5))
    spikes, potential, eta, last_spikes = (keras.ops.convert_to_numpy(t) for t in layer(x))
    w = weights_of(cell)
    ref = reference.run_alif(
        x, w["kernel"], w["recurrent_kernel"], w["bias"], w["tau_m"], w["tau_adp"], cell.threshold, cell.adaptation
    )
    np.testing.assert_array_equal(spikes, ref["spikes"])
    np.testing.assert_allclose(potential, ref["potential"][:, -1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(eta, ref["adaptation"][:, -1], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(last_spikes, ref["spikes"][:, -1])
    assert 0.05 < spikes.mean() < 0.6  # the comparison covers both spiking and silent steps


def test_default_initialisation():
    # tau_adp, b0, beta: the paper's; tau_m ~ N(5, 1), not its N(20, 5) (see LeakyCell, docs/training.md)
    cell = ALIFCell(256)
    cell.build((None, 64))
    tau_m, tau_adp = cell.tau_m.numpy(), cell.tau_adp.numpy()
    assert abs(tau_m.mean() - 5) < 0.3 and abs(tau_m.std() - 1) < 0.2
    assert abs(tau_adp.mean() - 150) < 3 and abs(tau_adp.std() - 10) < 2
    rec = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(rec.T @ rec, np.eye(256), atol=1e-4)  # orthogonal
    kernel = cell.kernel.numpy()  # lecun_normal: a normal truncated at 2 sd, variance 1 / features
    assert np.abs(kernel).max() <= 2 * 64**-0.5 / 0.8796 + 1e-6 and abs(kernel.std() - 64**-0.5) < 0.005
    assert np.all(cell.bias.numpy() == 0)
    # ALIF's subtractive reset keeps its gradient
    assert (cell.threshold, cell.adaptation, cell.detach_reset) == (0.01, 0.3, False)
    assert cell.tau_m.trainable and cell.tau_adp.trainable


def test_one_step_gradient_matches_closed_form():
    """From rest: s_1 = H((1 - alpha) (x W + b) - b0); dL/dW, dL/dtau_m by hand."""
    cell = make_cell(6, 4, seed=11, recurrent=False)
    x = np.random.default_rng(2).normal(0, 1.0, (5, 4))
    g = np.random.default_rng(3).normal(0, 1.0, (5, 6))
    states = cell.get_initial_state(batch_size=5)
    with tf.GradientTape() as tape:
        spikes, _ = cell(x, states)
        loss = tf.reduce_sum(g * spikes)
    d_kernel, d_tau = tape.gradient(loss, [cell.kernel, cell.tau_m])
    w = weights_of(cell)
    alpha = np.exp(-1.0 / w["tau_m"])
    current = x @ w["kernel"] + w["bias"]
    delta = g * reference.multi_gaussian((1 - alpha) * current - 0.01)
    np.testing.assert_allclose(d_kernel.numpy(), x.T @ (delta * (1 - alpha)), rtol=1e-9)
    dalpha_dtau = alpha / w["tau_m"] ** 2
    np.testing.assert_allclose(d_tau.numpy(), (delta * -current * dalpha_dtau).sum(0), rtol=1e-9)


def test_time_constants_stay_valid_under_wild_training():
    model = keras.Sequential([keras.Input((10, 3)), SpikingRNN(8, neuron="alif")])
    model.compile(keras.optimizers.SGD(1e4), "mse")
    x = np.random.default_rng(0).normal(size=(16, 10, 3)).astype("float32")
    model.fit(x, np.ones((16, 8), "float32"), epochs=3, verbose=0)
    cell = model.layers[0].cell
    for tau in (cell.tau_m.numpy(), cell.tau_adp.numpy()):
        assert np.all(np.isfinite(tau)) and np.all(tau >= 1.0)


def test_time_constants_can_be_frozen():
    cell = ALIFCell(4, train_time_constants=False)
    cell.build((None, 2))
    assert not cell.tau_m.trainable and not cell.tau_adp.trainable
    assert {w.name for w in cell.trainable_weights} == {"kernel", "recurrent_kernel", "bias"}


@pytest.mark.parametrize("seed", [0, 1])
def test_uniform_initial_potential_is_drawn_below_threshold(seed):
    cell = ALIFCell(32, threshold=0.5, initial_potential="uniform")
    u0 = cell.get_initial_state(batch_size=64)[0].numpy()
    assert 0 <= u0.min() and u0.max() < 0.5 and u0.std() > 0.1
    assert all(np.all(s.numpy() == 0) for s in ALIFCell(3).get_initial_state(batch_size=2))
