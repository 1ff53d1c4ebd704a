import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn import surrogates
from tests import reference

V = np.linspace(-3.0, 3.0, 1201)


@pytest.mark.parametrize("name", sorted(reference.SURROGATE_DERIVATIVES))
def test_forward_is_exact_step_and_gradient_is_closed_form(name):
    spike = surrogates.get(name)
    v = tf.constant(V, tf.float64)
    upstream = tf.constant(np.random.default_rng(0).normal(size=V.shape))
    with tf.GradientTape() as tape:
        tape.watch(v)
        s = spike(v)
        loss = tf.reduce_sum(upstream * s)
    np.testing.assert_array_equal(s.numpy(), (V > 0).astype(float))
    expected = upstream.numpy() * reference.SURROGATE_DERIVATIVES[name](V)
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "obj, ref",
    [
        (
            surrogates.MultiGaussian(sigma=0.3, height=0.2, scale=4.0),
            lambda v: reference.multi_gaussian(v, 0.3, 0.2, 4.0),
        ),
        (surrogates.Gaussian(sigma=1.5), lambda v: reference.gaussian(v, 1.5)),
        (surrogates.Linear(slope=3.0), lambda v: reference.linear(v, 3.0)),
        (surrogates.SLayer(rate=2.0), lambda v: reference.slayer(v, 2.0)),
        (surrogates.FastSigmoid(slope=10.0), lambda v: reference.fast_sigmoid(v, 10.0)),
        (surrogates.Arctan(width=4.0), lambda v: reference.arctan(v, 4.0)),
        (surrogates.StraightThrough(half_width=1.0), lambda v: reference.straight_through(v, 1.0)),
    ],
)
def test_constants_and_gain_are_honoured(obj, ref):
    scaled = type(obj)(**{**obj.get_config(), "gain": 0.5})
    v = tf.constant(V, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(v)
        loss = tf.reduce_sum(scaled(v))
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), 0.5 * ref(V), rtol=1e-10, atol=1e-12)


def test_multi_gaussian_has_paper_shape():
    d = reference.multi_gaussian(V)
    assert d.max() == pytest.approx(0.878, abs=1e-3)  # peak of eq. 1 with the paper's constants
    assert d.min() < 0  # the negative side lobes that define it
    got = surrogates.MultiGaussian().derivative(tf.constant(V)).numpy()
    np.testing.assert_allclose(got, d, rtol=1e-12)


def test_float32_and_float16_inputs_keep_their_dtype():
    for dtype in (tf.float32, tf.float16):
        v = tf.constant([-1.0, 0.0, 0.5], dtype)
        with tf.GradientTape() as tape:
            tape.watch(v)
            s = surrogates.get("multi_gaussian")(v)
        assert s.dtype == dtype and tape.gradient(s, v).dtype == dtype
        np.testing.assert_array_equal(s.numpy(), [0, 0, 1])


def test_lookup_by_name_dict_and_object():
    obj = surrogates.Gaussian(sigma=0.2)
    assert surrogates.get(obj) is obj
    assert surrogates.get(surrogates.serialize(obj)) == obj
    assert surrogates.get("gaussian") == surrogates.Gaussian()
    assert set(reference.SURROGATE_DERIVATIVES) <= set(surrogates.available())


def test_unknown_or_bad_surrogates_are_refused():
    with pytest.raises(ValueError, match="Unknown surrogate 'gausian'"):
        surrogates.get("gausian")
    with pytest.raises(TypeError, match="surrogate"):
        surrogates.get(3)
    with pytest.raises(ValueError, match="`sigma` must be a positive"):
        surrogates.Gaussian(sigma=0)
    with pytest.raises(ValueError, match="`gain`"):
        surrogates.Linear(gain=float("nan"))


def test_user_defined_surrogate_by_name():
    @surrogates.register_surrogate("test_box")
    class Box(surrogates.Surrogate):
        def __init__(self, width=0.25, gain=1.0):
            super().__init__(gain)
            self.width = width

        def derivative(self, v):
            return tf.cast(tf.abs(v) < self.width, v.dtype) / (2 * self.width)

        def get_config(self):
            return {"width": self.width, **super().get_config()}

    spike = surrogates.get("test_box")
    v = tf.constant(V)
    with tf.GradientTape() as tape:
        tape.watch(v)
        loss = tf.reduce_sum(spike(v))
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), (np.abs(V) < 0.25) * 2.0)
    assert surrogates.get(surrogates.serialize(Box(width=0.5))).width == 0.5
