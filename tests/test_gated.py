import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_spiking_rnn import GatedSpikingCell, SpikingRNN
from keras_spiking_rnn.cells import multi_level_spikes
from keras_spiking_rnn.surrogates import StraightThrough
from tests import reference
from tests.conftest import random_cell, step_through, weights_of


def make_cell(units, inputs, seed, **kwargs):
    return random_cell(GatedSpikingCell, units, inputs, seed, kernel_std=0.5, **kwargs)


@settings(max_examples=8, deadline=None)
@given(
    units=st.integers(1, 10),
    recurrent=st.booleans(),
    levels_dead_zone=st.sampled_from([(1, 0), (3, 0), (7, 2), (31, 3)]),
    threshold=st.sampled_from([1 / 32, 0.1, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_matches_numpy_reference_step_by_step(units, recurrent, levels_dead_zone, threshold, seed):
    levels, dead_zone = levels_dead_zone
    cell = make_cell(units, 3, seed, recurrent=recurrent, levels=levels, dead_zone=dead_zone, threshold=threshold)
    x = np.random.default_rng(seed + 1).normal(0, 1.0, (4, 50, 3))
    w = weights_of(cell)
    ref = reference.run_gated(x, w["kernel"], w.get("recurrent_kernel"), w["bias"], levels, dead_zone, threshold)
    got = step_through(cell, x)
    np.testing.assert_allclose(got["output"], ref["output"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["synaptic"], ref["synaptic"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["potential"], ref["potential"], rtol=1e-9, atol=1e-12)


def test_outputs_are_multi_level_and_sparse_by_dead_zone():
    cell = make_cell(32, 5, seed=5, levels=7, dead_zone=2, threshold=0.25)
    layer = SpikingRNN(neuron=cell, return_sequences=True, dtype="float64")
    x = np.random.default_rng(2).normal(0, 1.0, (8, 100, 5))
    out = keras.ops.convert_to_numpy(layer(x))
    w = weights_of(cell)
    np.testing.assert_allclose(
        out, reference.run_gated(x, w["kernel"], w["recurrent_kernel"], w["bias"], 7, 2, 0.25)["output"]
    )
    values = set(np.round(np.unique(out) / 0.25, 9))
    assert values <= {0.0, 3.0, 4.0, 5.0, 6.0, 7.0}  # dead zone: levels 1 and 2 never appear
    assert len(values) >= 3 and (out == 0).mean() > 0.1


def test_binary_case_is_a_spike_of_threshold_height():
    potential = tf.constant([[-1.0, 0.0, 0.05, 0.11, 3.0]], tf.float64)
    out = multi_level_spikes(potential, 0.1, levels=1, dead_zone=0, surrogate=StraightThrough())
    np.testing.assert_allclose(out.numpy(), [[0, 0, 0, 0.1, 0.1]])


@pytest.mark.parametrize("dead_zone", [0, 3])
def test_per_level_straight_through_is_identity_over_the_range(dead_zone):
    """The authors' straight-through estimator: d out / d mem = 1 inside the levels, dead zone included."""
    points = np.random.default_rng(0).uniform(-0.5, 1.5, 2000)
    points = points[np.abs((points / 0.1) % 1 - 0.5) > 1e-6]  # off the window edges
    mem = tf.constant(points[None], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(mem)
        out = multi_level_spikes(mem, 0.1, levels=10, dead_zone=dead_zone, surrogate=StraightThrough(0.5))
    grad = tape.gradient(out, mem).numpy()[0]
    m = mem.numpy()[0]
    inside = (m > 0.05) & (m < 1.05)
    np.testing.assert_allclose(grad[inside], 1.0)
    assert np.all(grad[(m < 0.05) | (m > 1.05)] == 0)


def test_one_step_gradient_matches_closed_form():
    cell = make_cell(4, 3, seed=21, recurrent=False, levels=5, dead_zone=2, threshold=0.2)
    x = np.random.default_rng(4).normal(0, 1.0, (6, 3))
    g = np.random.default_rng(5).normal(0, 1.0, (6, 4))
    with tf.GradientTape() as tape:
        out, _ = cell(x, cell.get_initial_state(batch_size=6))
        loss = tf.reduce_sum(g * out)
    d_kernel = tape.gradient(loss, cell.kernel).numpy()
    w = weights_of(cell)
    a = x @ w["kernel"] + w["bias"]
    f = 1 / (1 + np.exp(-a[:, :4]))
    c = np.maximum(a[:, 4:], 0)
    mem = (1 - f) * c  # from rest, syn = mem
    dq = sum(reference.straight_through(mem / 0.2 - k) for k in range(1, 6))  # one window per level
    d_mem = g * dq
    d_af = d_mem * (-c) * f * (1 - f)
    d_ac = d_mem * (1 - f) * (a[:, 4:] > 0)
    np.testing.assert_allclose(d_kernel, x.T @ np.concatenate([d_af, d_ac], 1), rtol=1e-9, atol=1e-12)


def test_default_initialisation_follows_the_authors_code():
    cell = GatedSpikingCell(64)
    cell.build((None, 48))
    assert cell.kernel.shape == (48, 128) and cell.recurrent_kernel.shape == (64, 128)
    assert np.abs(cell.kernel.numpy()).max() <= np.sqrt(3 / 48)  # Kaiming-uniform, sigmoid gain
    rec = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(rec @ rec.T, 2 * np.eye(64), atol=1e-4)  # orthogonal rows, gain sqrt(2)
    assert (cell.levels, cell.dead_zone, cell.threshold) == (31, 3, 1 / 32)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"levels": 0}, "levels"),
        ({"levels": 3, "dead_zone": 3}, "dead_zone"),
        ({"threshold": -1.0}, "threshold"),
        ({"levels": 2.5}, "levels"),
    ],
)
def test_bad_levels_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedSpikingCell(4, **kwargs)
