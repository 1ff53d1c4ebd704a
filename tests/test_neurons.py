"""The conformance suite: every registered neuron, through every stage, against independent references.

Parametrized over the registry (``available_neurons(spiking=True)``, variants below), so registering a
neuron adds it to every check here without editing a test; ``tests/neuron_zoo.py`` registers a test-only
neuron written through the public API only. For each:

* the NumPy reference (``tests/reference.py``, from the papers) against the cell, step by step, float64;
* fused BPTT gradients against TensorFlow's autodiff of Keras's loop, float64;
* the streaming one-step model against the Keras model, step by step;
* after quantization-aware training, the int8 model in the TFLM interpreter against the QAT model;
* the ``.keras`` round trip of the float and the QAT model;
* the operation counts against the neuron's declared update cost and its actual spikes.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import LeakyReadout, SpikingRNN, available_neurons
from keras_spiking_rnn.analysis import count_operations
from keras_spiking_rnn.cells import LeakyCell, get_neuron
from keras_spiking_rnn.cells.neuron import implementation
from keras_spiking_rnn.export import StreamingModel, export_tflite_micro
from keras_spiking_rnn.quantization import quantize_model
from tests import neuron_zoo, reference

FEATURES, UNITS, STEPS = 4, 6, 12

# Each neuron's variants: the arguments that change its equations (each variant runs every check).
VARIANTS = {
    "lif": [{}, {"reset": "subtract"}],
    "alif": [{}],
    "gated": [{"levels": 5, "dead_zone": 1}],
}


# Arguments that make a small random layer spike in a dozen steps.
# The initializer is seeded: one made at import without a seed draws a new seed in every process.
def _lively():
    return {"tau_m_initializer": keras.initializers.RandomNormal(4.0, 1.0, seed=7), "threshold": 0.05}


def _kwargs(name, variant):
    return {**_lively(), **variant} if issubclass(get_neuron(name), LeakyCell) else dict(variant)


def _reference_states(name, cell, x):
    """The NumPy reference of ``cell`` on ``x``: every state after every step."""
    w = {v.name: np.asarray(v.numpy(), np.float64) for v in cell.weights}
    recurrent = w.get("recurrent_kernel")
    if name == "lif":
        return reference.run_lif(x, w["kernel"], recurrent, w["bias"], w["tau_m"], cell.threshold, cell.reset)
    if name == "alif":
        return reference.run_alif(
            x, w["kernel"], recurrent, w["bias"], w["tau_m"], w["tau_adp"], cell.threshold, cell.adaptation
        )
    if name == "gated":
        return reference.run_gated(x, w["kernel"], recurrent, w["bias"], cell.levels, cell.dead_zone, cell.threshold)
    if name in ("adlif", "se_adlif"):
        return reference.run_adlif(
            x,
            w["kernel"],
            recurrent,
            w["bias"],
            w["tau_m"],
            w["tau_w"],
            w["a"],
            w["b"],
            cell.q,
            cell.threshold,
            symplectic=name == "se_adlif",
        )
    if name == "test_integrate_and_fire":
        return neuron_zoo.run_integrate_and_fire(x, w["kernel"], recurrent, w["bias"], cell.threshold)
    pytest.fail(f"neuron {name!r} has no NumPy reference: add one to tests/reference.py and map it here")


def _cases():
    for name in available_neurons(spiking=True):
        for i, variant in enumerate(VARIANTS.get(name, [{}])):
            yield pytest.param(name, variant, id=f"{name}-{i}" if i else name)


CASES = list(_cases())


def _model(name, variant, dtype="float32", bptt="fused", seed=0):
    keras.utils.set_random_seed(seed)
    kwargs = _kwargs(name, variant)
    inputs = keras.Input((STEPS, FEATURES), dtype=dtype)
    hidden = SpikingRNN(UNITS, neuron=name, return_sequences=True, dtype=dtype, bptt=bptt, name="hidden", **kwargs)
    outputs = LeakyReadout(3, output_mode="mean", dtype=dtype, bptt=bptt, name="readout")(hidden(inputs))
    return keras.Model(inputs, outputs, name=f"conformance_{name}")


def _data(seed=1, n=48):
    rng = np.random.default_rng(seed)
    return rng.random((n, STEPS, FEATURES)).astype("float32"), rng.integers(0, 3, n)


@pytest.mark.parametrize("name, variant", CASES)
def test_cell_follows_its_numpy_reference_step_by_step(name, variant):
    cell = get_neuron(name)(UNITS, dtype="float64", **_kwargs(name, variant))
    cell.build((None, FEATURES))
    rng = np.random.default_rng(3)
    for weight in cell.weights:
        if "tau" not in weight.name:
            weight.assign(rng.normal(0, 0.6, weight.shape))
    x = rng.normal(0.3, 1.0, (3, STEPS, FEATURES))
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, dtype="float64")
    expected = _reference_states(name, cell, x)
    states = {n: [] for n in cell.state_names}
    state = cell.get_initial_state(batch_size=3)
    for t in range(STEPS):
        _, state = cell(tf.constant(x[:, t]), state)
        for n, s in zip(cell.state_names, state):
            states[n].append(np.asarray(s))
    assert set(expected) == set(cell.state_names)
    for n in cell.state_names:
        np.testing.assert_allclose(np.stack(states[n], 1), expected[n], rtol=1e-9, atol=1e-12, err_msg=n)
    spikes = np.stack(states[cell.state_names[cell.output_state]], 1)
    assert 0 < np.count_nonzero(spikes) < spikes.size, "the reference check needs some spikes and some silences"
    np.testing.assert_allclose(np.asarray(layer(x)[0]), spikes, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, variant", CASES)
def test_fused_gradients_equal_autodiff(name, variant):
    x = tf.constant(np.random.default_rng(4).normal(0.3, 1.0, (4, STEPS, FEATURES)))
    y = tf.constant(np.random.default_rng(5).normal(0, 1.0, (4, 3)))
    models = [_model(name, variant, dtype="float64", bptt=mode) for mode in ("fused", "autodiff")]
    models[1].set_weights(models[0].get_weights())
    gradients = []
    for model in models:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((model(x) - y) ** 2)
        gradients.append([np.asarray(g) for g in tape.gradient(loss, model.trainable_weights)])
    assert any(np.any(g != 0) for g in gradients[0][:3]), "no gradient reached the spiking layer"
    for fused, autodiff in zip(*gradients):
        np.testing.assert_allclose(fused, autodiff, rtol=1e-8, atol=1e-12)


def _largest_gradient(name, variant, steps, seed, bptt="fused"):
    """The largest |gradient| of a loss on the last output over all weights of a model with the neuron's
    defaults, on ``steps`` random steps (float64)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, FEATURES), dtype="float64")
    hidden = SpikingRNN(8, neuron=name, return_sequences=True, dtype="float64", bptt=bptt, **variant)(inputs)
    model = keras.Model(inputs, LeakyReadout(3, output_mode="mean", dtype="float64", bptt=bptt)(hidden))
    x = tf.constant(np.random.default_rng(seed).normal(0, 1, (4, steps, FEATURES)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * np.linspace(-1, 1, 3))
    gradients = tape.gradient(loss, model.trainable_weights)
    return max(float(np.abs(g).max()) for g in gradients), [np.asarray(g) for g in gradients]


@pytest.mark.slow
@pytest.mark.parametrize("name, variant", CASES)
def test_gradients_stay_finite_and_bounded_over_2000_steps(name, variant):
    """The largest |gradient| at T=2000 is within 10x of the largest at T=50, for 3 seeds; fused equals autodiff."""
    for seed in range(3):
        short, _ = _largest_gradient(name, variant, 50, seed)
        long, fused = _largest_gradient(name, variant, 2000, seed)
        assert np.isfinite(long) and 0 < long <= 10 * short, (seed, short, long)
    _, autodiff = _largest_gradient(name, variant, 2000, seed, bptt="autodiff")
    for a, b in zip(fused, autodiff):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12 * np.abs(b).max())


def test_without_detach_reset_the_hard_resets_gradients_explode():
    """Why ``detach_reset`` is the default: the same check fails for Yin et al.'s hard reset differentiated
    through the reset term (the gain per step of a silent neuron below 0 exceeds 1).

    The paper's ``tau_m ~ N(20, 5)``: the gain per step, alpha (1 - u surrogate'(u - threshold)), grows with alpha;
    with the library's faster default membrane (N(5, 1)) this small model happens to stay bounded."""
    paper = {"detach_reset": False, "tau_m_initializer": keras.initializers.RandomNormal(20.0, 5.0, seed=7)}
    short, _ = _largest_gradient("lif", paper, 50, 0)
    long, _ = _largest_gradient("lif", paper, 2000, 0)
    assert not np.isfinite(long) or long > 1e6 * short


@pytest.mark.parametrize("name, variant", CASES)
def test_streaming_equals_keras_step_by_step(name, variant):
    model = _model(name, variant)
    x, _ = _data()
    x = x[:8]
    probe = keras.Model(model.inputs, model.get_layer("hidden").output)
    stream = StreamingModel(model, sequence_length=STEPS, batch_size=8)
    outputs = stream.run(x)
    np.testing.assert_allclose(outputs[:, -1], np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    hidden_states = [v for v in stream.state_variables if v.name.startswith("hidden_")]
    assert [v.name.split(":")[0] for v in hidden_states] == [f"hidden_{n}" for n in get_neuron(name).state_names]
    stream.reset()
    output_state = hidden_states[model.get_layer("hidden").cell.output_state]
    spikes = []
    for t in range(STEPS):
        stream.step(tf.constant(x[:, t]))
        spikes.append(output_state.numpy())
    np.testing.assert_allclose(np.stack(spikes, 1), np.asarray(probe(x)), atol=1e-5)


@pytest.mark.parametrize("name, variant", CASES)
def test_int8_model_in_tflm_follows_the_qat_model(name, variant, tmp_path):
    x, y = _data(n=96)
    model = _model(name, variant)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    qat = quantize_model(model, calibration_data=x[:64])
    qat.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(x, y, epochs=1, batch_size=16, verbose=0)
    result = export_tflite_micro(qat, x[:64], tmp_path / "int8", validation_data=(x[64:], y[64:]), min_agreement=0)
    assert (tmp_path / "int8" / "model.tflite").exists()
    assert result.verification.agreement >= 0.9, result.verification  # QAT follows the int8 model


@pytest.mark.parametrize("name, variant", CASES)
def test_keras_file_round_trip_of_the_float_and_qat_models(name, variant, tmp_path):
    x, _ = _data(n=8)
    model = _model(name, variant)
    model.save(tmp_path / "float.keras")
    loaded = keras.models.load_model(tmp_path / "float.keras")
    assert type(loaded.get_layer("hidden").cell) is get_neuron(name)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    qat = quantize_model(model, calibration_data=x)
    qat.save(tmp_path / "qat.keras")
    reloaded = keras.models.load_model(tmp_path / "qat.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(qat(x)))


@pytest.mark.parametrize("name, variant", CASES)
def test_operation_counts_follow_the_declared_update_cost_and_the_spikes(name, variant):
    model = _model(name, variant)
    x, _ = _data(n=16)
    layer = model.get_layer("hidden")
    cell = layer.cell
    macs, acs = implementation(cell, "neuron_update_operations")
    outputs = np.asarray(keras.Model(model.inputs, layer.output)(x))
    previous = np.concatenate([np.zeros_like(outputs[:, :1]), outputs[:, :-1]], axis=1)
    width = cell.n_gates * UNITS
    synaptic = np.count_nonzero(previous) * width / (x.shape[0] * STEPS)  # one operation per event and synapse
    expected_macs = FEATURES * width + macs * UNITS + (synaptic if cell.output_levels > 1 else 0.0)
    expected_acs = width + acs * UNITS + (0.0 if cell.output_levels > 1 else synaptic)
    counted = count_operations(model, x).layers[0]
    assert counted.kind == type(cell).__name__
    assert counted.macs_per_step == pytest.approx(expected_macs)
    assert counted.acs_per_step == pytest.approx(expected_acs)
