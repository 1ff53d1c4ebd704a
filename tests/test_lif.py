import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_spiking_rnn import ALIFCell, LIFCell, SpikingRNN
from tests import reference
from tests.conftest import random_cell, step_through, weights_of


def make_cell(units, inputs, seed, **kwargs):
    return random_cell(LIFCell, units, inputs, seed, kernel_std=1.0, **kwargs)


@settings(max_examples=8, deadline=None)
@given(
    units=st.integers(1, 12),
    recurrent=st.booleans(),
    reset=st.sampled_from(["zero", "subtract"]),
    threshold=st.sampled_from([0.01, 0.3, 1.0]),
    tau_m=st.floats(2.0, 60.0),
    seed=st.integers(0, 2**16),
)
def test_matches_numpy_reference_step_by_step(units, recurrent, reset, threshold, tau_m, seed):
    cell = make_cell(
        units,
        3,
        seed,
        recurrent=recurrent,
        reset=reset,
        threshold=threshold,
        tau_m_initializer=keras.initializers.RandomNormal(tau_m, 0.2 * tau_m),
    )
    x = np.random.default_rng(seed + 1).normal(0, 2.0, (4, 60, 3))
    w = weights_of(cell)
    ref = reference.run_lif(x, w["kernel"], w.get("recurrent_kernel"), w["bias"], w["tau_m"], threshold, reset)
    got = step_through(cell, x)
    np.testing.assert_array_equal(got["spikes"], ref["spikes"])
    np.testing.assert_allclose(got["potential"], ref["potential"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_whole_sequence_layer_matches_reference(reset):
    cell = make_cell(16, 5, seed=4, reset=reset, threshold=0.3)
    layer = SpikingRNN(neuron=cell, return_sequences=True, return_state=True, dtype="float64")
    x = np.random.default_rng(8).normal(0, 2.0, (8, 150, 5))
    spikes, potential, _ = (keras.ops.convert_to_numpy(t) for t in layer(x))
    w = weights_of(cell)
    ref = reference.run_lif(x, w["kernel"], w["recurrent_kernel"], w["bias"], w["tau_m"], 0.3, reset)
    np.testing.assert_array_equal(spikes, ref["spikes"])
    np.testing.assert_allclose(potential, ref["potential"][:, -1], rtol=1e-9, atol=1e-12)
    assert 0.05 < spikes.mean() < 0.6


def test_hard_reset_empties_the_membrane_after_a_spike():
    cell = make_cell(1, 1, seed=0, recurrent=False, threshold=0.5)
    cell.kernel.assign([[1.0]])
    cell.bias.assign([0.0])
    got = step_through(cell, np.ones((1, 200, 1)))
    spiked = np.flatnonzero(got["spikes"][0, :, 0])
    assert len(spiked) >= 3  # a constant drive above threshold fires regularly
    alpha = np.exp(-1 / cell.tau_m.numpy()[0])
    # the step after a spike starts from 0: u = (1 - alpha) * I
    np.testing.assert_allclose(got["potential"][0, spiked[:-1] + 1, 0], 1 - alpha, rtol=1e-12)


def test_subtract_reset_equals_alif_without_adaptation():
    x = np.random.default_rng(1).normal(0, 1.0, (3, 40, 2))
    lif = make_cell(5, 2, seed=9, reset="subtract", threshold=0.05)
    alif = ALIFCell(5, adaptation=0.0, threshold=0.05, dtype="float64")
    alif.build((None, 2))
    for name in ("kernel", "recurrent_kernel", "bias", "tau_m"):
        getattr(alif, name).assign(getattr(lif, name).value)
    np.testing.assert_array_equal(step_through(lif, x)["spikes"], step_through(alif, x)["spikes"])


def test_one_step_gradient_matches_closed_form():
    cell = make_cell(6, 4, seed=12, recurrent=False, surrogate="gaussian", threshold=0.2)
    x = np.random.default_rng(2).normal(0, 1.0, (5, 4))
    g = np.random.default_rng(3).normal(0, 1.0, (5, 6))
    with tf.GradientTape() as tape:
        spikes, _ = cell(x, cell.get_initial_state(batch_size=5))
        loss = tf.reduce_sum(g * spikes)
    d_kernel, d_bias = tape.gradient(loss, [cell.kernel, cell.bias])
    w = weights_of(cell)
    alpha = np.exp(-1.0 / w["tau_m"])
    delta = g * reference.gaussian((1 - alpha) * (x @ w["kernel"] + w["bias"]) - 0.2) * (1 - alpha)
    np.testing.assert_allclose(d_kernel.numpy(), x.T @ delta, rtol=1e-9)
    np.testing.assert_allclose(d_bias.numpy(), delta.sum(0), rtol=1e-9)
