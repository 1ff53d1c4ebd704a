"""The fused two-loop BPTT (keras_spiking_rnn.bptt) against TensorFlow's automatic differentiation of Keras's loop.

The reference is ``bptt="autodiff"``: ``keras.layers.RNN``'s own time loop over the cell's ``call``,
differentiated by TensorFlow. Both run in float64 on the same weights and inputs, so the spikes agree
exactly and the gradients to rounding.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import LeakyReadout, LIFCell, SpikingRNN

CELLS = {
    "alif": {"neuron": "alif"},
    "alif-feedforward": {"neuron": "alif", "recurrent": False},
    "lif-zero-reset": {"neuron": "lif"},
    "lif-subtract-reset": {"neuron": "lif", "reset": "subtract"},
    "gated": {"neuron": "gated", "levels": 5, "dead_zone": 1},
    "gated-multi-gaussian": {"neuron": "gated", "levels": 4, "dead_zone": 0, "surrogate": "multi_gaussian"},
    "user-cell": {"neuron": "custom"},  # no closed form: each step differentiated with a GradientTape
}


@keras.saving.register_keras_serializable(package="tests")
class SoftResetLIFCell(LIFCell):
    """A user's cell: LIF whose reset subtracts half the potential. No closed-form adjoint: the taped one."""

    def update(self, current, states, constants):
        potential, spikes = states
        (alpha,) = constants
        potential = alpha * potential * (1.0 - 0.5 * spikes) + (1.0 - alpha) * current
        return [potential, self.surrogate(potential - self.threshold)]


def _spiking_kwargs(config):
    kwargs = dict(config)
    if kwargs.get("neuron") == "custom":
        tau = keras.initializers.RandomNormal(4.0, 1.0)
        return {"neuron": SoftResetLIFCell(kwargs.pop("units"), threshold=0.05, tau_m_initializer=tau, dtype="float64")}
    if kwargs["neuron"] != "gated":  # short time constants and a visible threshold: plenty of spikes in 25 steps
        kwargs.update(tau_m_initializer=keras.initializers.RandomNormal(4.0, 1.0), threshold=0.05)
    return kwargs


def _pair(config, jit_compile, go_backwards=False, units=12, classes=3, features=6):
    """The same model twice, fused and autodiff, float64, with the same weights."""
    models = []
    for mode in ("fused", "autodiff"):
        options = {"bptt": mode, "jit_compile": jit_compile, "dtype": "float64"}
        inputs = keras.Input((None, features), dtype="float64")
        config = {**config, "units": units} if config["neuron"] == "custom" else config
        first, second = _spiking_kwargs(config), _spiking_kwargs(config)
        layer_units = None if config["neuron"] == "custom" else units
        hidden = SpikingRNN(layer_units, return_sequences=True, go_backwards=go_backwards, **options, **first)(inputs)
        hidden = SpikingRNN(layer_units, return_sequences=True, **options, **second)(hidden)
        outputs = LeakyReadout(classes, output_mode="sequence", **options)(hidden)
        models.append(keras.Model(inputs, outputs))
    models[1].set_weights(models[0].get_weights())
    return models


def _outputs_and_gradients(model, x, weights_of_steps):
    with tf.GradientTape() as tape:
        y = model(x, training=True)
        loss = tf.reduce_sum(y * weights_of_steps)
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < 0.4) * rng.uniform(0.5, 2.0, shape)


@pytest.mark.parametrize("jit_compile", [True, False], ids=["xla", "no-xla"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_gradients_equal_automatic_differentiation(name, jit_compile):
    fused, reference = _pair(CELLS[name], jit_compile)
    x = _inputs((4, 25, 6))
    weights_of_steps = np.random.default_rng(1).normal(size=(4, 25, 3))
    y_fused, g_fused = _outputs_and_gradients(fused, x, weights_of_steps)
    y_ref, g_ref = _outputs_and_gradients(reference, x, weights_of_steps)
    assert all("_runners" in layer.__dict__ for layer in fused.layers[1:])  # the fused path really ran
    assert not any("_runners" in layer.__dict__ for layer in reference.layers[1:])
    closed_form = fused.layers[1]._sequence_runner().adjoint is not None
    assert closed_form == (name != "user-cell")  # a user's cell takes the taped adjoint
    np.testing.assert_allclose(y_fused, y_ref, rtol=1e-12, atol=1e-12)
    spikes = keras.Model(fused.input, fused.layers[1].output)(x).numpy()
    assert 0.02 < np.mean(spikes != 0) < 0.9  # the gradients go through real spiking activity
    for variable, a, b in zip(fused.trainable_variables, g_fused, g_ref):
        assert np.abs(b).max() > 0, variable.path
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.abs(b).max(), err_msg=variable.path)


def test_go_backwards_and_initial_state_gradients():
    config = CELLS["alif"]
    x = tf.constant(_inputs((3, 20, 6), seed=2))
    results = []
    for mode in ("fused", "autodiff"):
        keras.utils.set_random_seed(7)
        layer = SpikingRNN(
            10,
            go_backwards=True,
            return_sequences=True,
            return_state=True,
            bptt=mode,
            dtype="float64",
            **_spiking_kwargs(config),
        )
        initial = [tf.constant(np.random.default_rng(3).uniform(0, 0.05, (3, 10))) for _ in range(3)]
        initial[2] = tf.constant((np.random.default_rng(4).random((3, 10)) < 0.3).astype("float64"))
        with tf.GradientTape() as tape:
            tape.watch(initial)
            sequence, *final = layer(x, initial_state=initial, training=True)
            loss = tf.reduce_sum(sequence * np.linspace(-1, 1, 10)) + tf.reduce_sum(final[0] ** 2)
        grads = tape.gradient(loss, [*layer.trainable_variables, *initial])
        results.append((sequence.numpy(), [f.numpy() for f in final], [g.numpy() for g in grads]))
    (seq_f, final_f, grads_f), (seq_r, final_r, grads_r) = results
    np.testing.assert_array_equal(seq_f, seq_r)
    for a, b in zip(final_f, final_r):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(grads_f, grads_r):
        assert np.abs(b).max() > 0
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.abs(b).max())


def test_masked_layers_use_the_keras_loop_and_still_train():
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking(-1.0)(inputs)
    hidden = SpikingRNN(8, neuron="alif", return_sequences=True)(masked)
    model = keras.Model(inputs, LeakyReadout(2, output_mode="mean")(hidden))
    x = np.random.default_rng(0).random((4, 10, 3)).astype("float32")
    x[:2, 6:] = -1.0
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert "_runners" not in model.layers[2].__dict__  # a mask: Keras's loop, which keeps states at masked steps


def test_training_options_are_checked_and_saved():
    with pytest.raises(ValueError, match="`bptt` must be one of"):
        SpikingRNN(4, bptt="manual")
    with pytest.raises(ValueError, match="`jit_compile` must be True or False"):
        LeakyReadout(4, jit_compile="yes")
    layer = SpikingRNN(4, neuron="lif", bptt="autodiff", jit_compile=False)
    clone = SpikingRNN.from_config(layer.get_config())
    assert (clone.bptt, clone.jit_compile) == ("autodiff", False)
    readout = LeakyReadout.from_config(LeakyReadout(3, jit_compile=False).get_config())
    assert (readout.bptt, readout.jit_compile) == ("fused", False)


def test_inputs_and_weights_are_checked():
    layer = SpikingRNN(4, neuron="alif")
    bad = np.zeros((1, 5, 2), "float32")
    bad[0, 3, 1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="received NaN or Inf in its inputs"):
        layer(bad)
    kernel = layer.cell.kernel.numpy()
    layer.cell.kernel.assign(np.full_like(kernel, np.nan))  # what a diverged optimizer step leaves
    with pytest.raises(tf.errors.InvalidArgumentError, match="or in `kernel`/`bias`"):
        layer(np.ones((1, 5, 2), "float32"))


@pytest.mark.parametrize("bptt", ["fused", "autodiff"])
def test_a_non_finite_gradient_names_the_layer_and_where_it_arose(bptt):
    """A NaN gradient from above is reported as received; one born in the layer's BPTT as its own."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 2))
    first = SpikingRNN(4, neuron="lif", return_sequences=True, bptt=bptt, name="first")
    second = SpikingRNN(4, neuron="lif", return_sequences=True, bptt=bptt, name="second")
    model = keras.Model(inputs, second(first(inputs)))
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 6, 2)), tf.float32)

    def gradients(output_gradients):
        with tf.GradientTape() as tape:
            y = model(x, training=True)
        return tape.gradient(y, model.trainable_variables, output_gradients=output_gradients)

    assert all(np.isfinite(g.numpy()).all() for g in gradients(tf.ones((2, 6, 4))))
    with pytest.raises(tf.errors.InvalidArgumentError, match="SpikingRNN 'second' received a NaN or Inf gradient"):
        gradients(tf.fill((2, 6, 4), np.inf))
    # A weight of 1e38 in the second layer's recurrent kernel: its own backward pass overflows.
    second.cell.recurrent_kernel.assign(np.full((4, 4), 1e38, "float32"))
    second.cell.kernel.assign(np.full_like(second.cell.kernel.numpy(), 1e-3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="SpikingRNN 'second': the gradient became NaN or Inf"):
        gradients(tf.ones((2, 6, 4)))
