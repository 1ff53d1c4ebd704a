"""Quantization-aware training (Keras 3): fake quantization, training, save/load, export agreement in TFLM."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402

from keras_spiking_rnn import LeakyReadout, SpikeCountReadout, SpikingRNN  # noqa: E402
from keras_spiking_rnn.data import load_mnist1d, sliding_windows  # noqa: E402
from keras_spiking_rnn.int8.rounding import quantize_constant, quantize_weights  # noqa: E402
from keras_spiking_rnn.quantization import calibrate, is_quantized, quantize_model  # noqa: E402

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# --- fake quantization against NumPy references of TFLite's int8 rules ------------------------------------


def test_weights_are_quantized_symmetrically_as_the_converter_does():
    w = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    scale = np.abs(w).max() / 127.0
    np.testing.assert_allclose(quantize_weights(w).numpy(), np.round(w / scale) * scale, atol=1e-6)
    scales = np.abs(w).max(axis=0) / 127.0
    np.testing.assert_allclose(quantize_weights(w, per_channel=True).numpy(), np.round(w / scales) * scales, atol=1e-6)
    assert len(np.unique(quantize_weights(w).numpy())) <= 255


def test_constants_are_quantized_over_zero_to_their_maximum():
    alpha = np.array([0.8, 0.9, 0.95, 0.97], np.float32)
    scale = alpha.max() / 255.0  # range [0, max], zero point -128
    np.testing.assert_allclose(quantize_constant(alpha).numpy(), np.round(alpha / scale) * scale, atol=1e-7)


# --- models --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    (x, y), (x_test, y_test) = load_mnist1d()
    return (sliding_windows(x, 8)[:1500], y[:1500]), (sliding_windows(x_test, 8)[:300], y_test[:300])


def small_model(neuron="alif", readout="leaky"):
    keras.utils.set_random_seed(1)
    extra = {} if neuron == "gated" else {"tau_m_initializer": keras.initializers.RandomNormal(5.0, 1.0)}
    layers = [
        keras.Input((None, 8)),
        SpikingRNN(32, neuron=neuron, return_sequences=True, name="spiking", **extra),
        keras.layers.Dropout(0.1),
    ]
    if readout == "leaky":
        layers.append(LeakyReadout(10, output_mode="mean", name="readout"))
    else:
        layers += [SpikeCountReadout("mean"), keras.layers.Dense(10, name="dense")]
    return keras.Sequential(layers)


@pytest.fixture(scope="module")
def trained(data):
    (x, y), _ = data
    model = small_model()
    model.compile(keras.optimizers.Adam(1e-2), LOSS, metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=6, verbose=0)
    qat = quantize_model(model, calibration_data=x[:128])
    qat.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
    history = qat.fit(x, y, batch_size=64, epochs=2, verbose=0)
    return model, qat, history


def test_quantize_model_keeps_the_float_model_and_its_weights(trained):
    model, qat, _ = trained
    assert is_quantized(qat) and not is_quantized(model)
    assert qat.name == model.name + "_qat"
    float_cell, qat_cell = model.get_layer("spiking").cell, qat.get_layer("spiking").cell
    assert type(qat_cell).__name__ == "QuantizedALIFCell"
    # Fine-tuning changed the QAT copy only.
    assert not np.allclose(float_cell.kernel.numpy(), qat_cell.kernel.numpy())


def test_qat_model_trains_and_learns_ranges(trained):
    _, qat, history = trained
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    ranges = qat.get_layer("spiking").learned_ranges()
    low, high = ranges["potential"]
    assert low <= 0.0 < high
    assert 0.0 < ranges["input"][1] < 10.0  # the first layer learns the model input's range
    assert "input" not in qat.get_layer("readout").learned_ranges()  # the readout's input is spikes, 0 or 1


def test_qat_outputs_follow_the_int8_model_better_than_the_float_model(trained, data, tmp_path):
    from keras_spiking_rnn.export import export_tflite_micro

    model, qat, _ = trained
    (x, _), (x_test, y_test) = data
    with pytest.warns(UserWarning):  # the float model's agreement is below the default 98%
        ptq = export_tflite_micro(model, x[:128], tmp_path / "ptq", validation_data=(x_test, y_test))
    result = export_tflite_micro(qat, x[:128], tmp_path / "qat", validation_data=(x_test, y_test), min_agreement=0)
    assert result.verification.agreement > ptq.verification.agreement
    assert result.verification.agreement >= 0.99  # measured: 1.0 (300 sequences)
    # The int8 input and output take the learned ranges, not the calibration's.
    low, high = qat.get_layer("spiking").learned_ranges()["input"]
    scale = json.loads((tmp_path / "qat" / "report.json").read_text())["input"]["scale"][0]
    assert scale == pytest.approx((high - low) / 255.0, rel=1e-3)


def test_count_readout_and_dense_export(data, tmp_path):
    from keras_spiking_rnn.export import export_tflite_micro

    (x, y), (x_test, _) = data
    model = small_model("lif", readout="count")
    model.compile(keras.optimizers.Adam(1e-2), LOSS)
    model.fit(x[:500], y[:500], batch_size=64, epochs=2, verbose=0)
    qat = quantize_model(model, calibration_data=x[:64])
    assert type(qat.layers[-1]).__name__ == "QuantizedDense"
    qat.compile(keras.optimizers.Adam(1e-3), LOSS)
    history = qat.fit(x[:500], y[:500], batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    result = export_tflite_micro(qat, x[:64], tmp_path / "out", validation_data=x_test[:200], min_agreement=0)
    assert result.verification.agreement >= 0.98  # measured: 1.0 (200 sequences)


def test_gated_qat_forward_is_finite_and_gradients_flow(data):
    (x, y), _ = data
    qat = quantize_model(small_model("gated"), calibration_data=x[:64])
    with tf.GradientTape() as tape:
        loss = LOSS(y[:32], qat(x[:32], training=True))
    grads = tape.gradient(loss, qat.trainable_variables)
    assert np.isfinite(float(loss))
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_saved_qat_model_reloads_with_its_ranges(trained, data, tmp_path):
    _, qat, _ = trained
    (_, _), (x_test, _) = data
    path = tmp_path / "qat.keras"
    qat.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x_test[:32], verbose=0), qat.predict(x_test[:32], verbose=0), atol=1e-6)
    assert loaded.get_layer("spiking").learned_ranges() == qat.get_layer("spiking").learned_ranges()


# --- errors --------------------------------------------------------------------------------------------------


def test_errors_name_the_problem(data, tmp_path):
    from keras_spiking_rnn.export import export_tflite_micro

    (x, _), _ = data
    with pytest.raises(TypeError, match="keras.Model"):
        quantize_model("model")
    lstm = keras.Sequential([keras.Input((None, 8)), keras.layers.LSTM(4)])
    with pytest.raises(ValueError, match="LSTM"):
        quantize_model(lstm)
    bidirectional = keras.Sequential(
        [keras.Input((None, 8)), keras.layers.Bidirectional(SpikingRNN(4, return_sequences=True))]
    )
    with pytest.raises(ValueError, match="Bidirectional|backwards"):
        quantize_model(bidirectional)
    qat = quantize_model(small_model())
    with pytest.raises(ValueError, match="already quantization-aware"):
        quantize_model(qat)
    with pytest.raises(ValueError, match="never measured"):
        export_tflite_micro(qat, x[:16], tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="calibration_data"):
        calibrate(qat, np.full((2, 40, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="range_decay"):
        quantize_model(small_model(), range_decay=1.5)
    calibrated = quantize_model(small_model(), calibration_data=x[:16])
    with pytest.raises(ValueError, match="per_channel"):
        export_tflite_micro(calibrated, x[:16], tmp_path / "pc", per_channel=True)


# --- TFLM's integer requantization, against the real TFLM interpreter ----------------------------------------


def _int8_model(function, shapes, rng):
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(function, input_signature=[tf.TensorSpec(s, tf.float32) for s in shapes]).get_concrete_function()]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.normal(size=s).astype(np.float32) * (i + 1) for i, s in enumerate(shapes)] for _ in range(50)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True  # the export's default
    return converter.convert()


def _tflm_outputs(flatbuffer, inputs):
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(flatbuffer, arena_size=1 << 16)
    for i, x in enumerate(inputs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    return interpreter.get_output(0)


def test_requantization_matches_tflm_mul_bit_for_bit():
    pytest.importorskip("tflite_micro")
    from keras_spiking_rnn.int8.rounding import tflm_rescale

    rng = np.random.default_rng(3)
    flatbuffer = _int8_model(lambda a, b: a * b, [(1, 256), (1, 256)], rng)
    lite = tf.lite.Interpreter(model_content=flatbuffer)
    (sa, za), (sb, zb) = [d["quantization"] for d in lite.get_input_details()]
    so, zo = lite.get_output_details()[0]["quantization"]
    mismatched_by_float_rounding = 0
    for _ in range(20):
        a, b = (rng.integers(-128, 128, (1, 256)).astype(np.int8) for _ in range(2))
        got = _tflm_outputs(flatbuffer, [a, b])
        accumulator = (a.astype(np.float64) - za) * (b.astype(np.float64) - zb)
        steps = tflm_rescale(tf.constant(accumulator), np.float64(sa) * np.float64(sb) / np.float64(so)).numpy()
        np.testing.assert_array_equal(np.clip(steps + zo, -128, 127), got)
        exact = np.clip(np.sign(accumulator) * np.floor(np.abs(accumulator * sa * sb / so) + 0.5) + zo, -128, 127)
        mismatched_by_float_rounding += int(np.sum(exact != got))
    assert mismatched_by_float_rounding > 0  # rounding once would not be enough: the double rounding matters


def test_requantization_matches_tflm_fully_connected_bit_for_bit():
    pytest.importorskip("tflite_micro")
    from keras_spiking_rnn.int8.rounding import tflm_rescale

    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(64, 32)).astype(np.float32) * 0.2
    bias = rng.normal(size=(32,)).astype(np.float32) * 0.1
    flatbuffer = _int8_model(lambda x: tf.matmul(x, kernel) + bias, [(1, 64)], rng)
    lite = tf.lite.Interpreter(model_content=flatbuffer)
    lite.allocate_tensors()
    sx, zx = lite.get_input_details()[0]["quantization"]
    so, zo = lite.get_output_details()[0]["quantization"]
    tensors = {d["index"]: d for d in lite.get_tensor_details()}
    op = next(o for o in lite._get_ops_details() if o["op_name"] == "FULLY_CONNECTED")
    weights, biases = (lite.get_tensor(i) for i in op["inputs"][1:3])
    sw = tensors[op["inputs"][1]]["quantization"][0]
    for _ in range(20):
        x = rng.integers(-128, 128, (1, 64)).astype(np.int8)
        got = _tflm_outputs(flatbuffer, [x])
        accumulator = (x.astype(np.float64) - zx) @ weights.T.astype(np.float64) + biases
        steps = tflm_rescale(tf.constant(accumulator), np.float64(sx) * np.float64(sw) / np.float64(so)).numpy()
        np.testing.assert_array_equal(np.clip(steps + zo, -128, 127), got)


def test_requantization_matches_tflm_sum_bit_for_bit():
    pytest.importorskip("tflite_micro")
    from keras_spiking_rnn.int8.rounding import tflm_rescale

    rng = np.random.default_rng(5)
    flatbuffer = _int8_model(lambda x: tf.reduce_sum(x, axis=-1), [(1, 32, 28)], rng)
    lite = tf.lite.Interpreter(model_content=flatbuffer)
    sx, zx = lite.get_input_details()[0]["quantization"]
    so, zo = lite.get_output_details()[0]["quantization"]
    for _ in range(20):
        x = rng.integers(-128, 128, (1, 32, 28)).astype(np.int8)
        accumulator = (x.astype(np.float64) - zx).sum(axis=-1)
        steps = tflm_rescale(tf.constant(accumulator), np.float64(sx) / np.float64(so)).numpy()
        np.testing.assert_array_equal(np.clip(steps + zo, -128, 127), _tflm_outputs(flatbuffer, [x]))


def test_comparison_matches_tflm_greater_bit_for_bit():
    pytest.importorskip("tflite_micro")
    from keras_spiking_rnn.quantization.fake_quant import Quantizer

    rng = np.random.default_rng(6)
    boundaries = (np.arange(4, 32) / 32.0).astype(np.float32)

    def levels(x):
        above = tf.reshape(x, (1, 32, 1)) > boundaries
        return tf.where(above, tf.ones((1, 32, 28)), tf.zeros((1, 32, 28)))

    flatbuffer = _int8_model(levels, [(1, 32)], rng)
    lite = tf.lite.Interpreter(model_content=flatbuffer)
    lite.allocate_tensors()
    sx, zx = lite.get_input_details()[0]["quantization"]
    zo = lite.get_output_details()[0]["quantization"][1]
    greater = next(o for o in lite._get_ops_details() if o["op_name"] == "GREATER")
    sb, zb = next(d for d in lite.get_tensor_details() if d["index"] == greater["inputs"][1])["quantization"]
    stored = (lite.get_tensor(greater["inputs"][1]).astype(np.float32) - zb) * sb
    quantize = Quantizer.__new__(Quantizer)  # only the registry and the ready flag are needed here
    quantize.scales, quantize._keep, quantize.ready = {}, [], tf.constant(1.0)
    b = quantize.register(tf.constant(stored), np.float32(sb))
    float_comparison_differs = 0
    for _ in range(100):
        x = rng.integers(-128, 128, (1, 32)).astype(np.int8)
        got = _tflm_outputs(flatbuffer, [x]) > zo
        a = quantize.register(tf.constant((x.astype(np.float32) - zx) * sx), np.float32(sx))
        np.testing.assert_array_equal(quantize.greater(a, b).numpy(), got)
        float_comparison_differs += int(np.sum((a.numpy()[..., None] > stored) != got))
    assert float_comparison_differs > 0  # comparing the real values would not be enough
