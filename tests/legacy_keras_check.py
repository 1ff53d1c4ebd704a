"""The tf-keras + tensorflow-model-optimization path, end to end; run by tests/test_tf_keras.py in its own process.

Usage: ``TF_USE_LEGACY_KERAS=1 python tests/legacy_keras_check.py OUTPUT_DIR``. On MNIST-1D it builds a
small ALIF model, makes it quantization-aware with ``keras_spiking_rnn.quantization.tfmot.quantize_model``,
fits one epoch, saves and reloads the QAT model (h5, inside ``quantize_scope``), strips it and exports the
stripped model to int8 TFLite Micro. The last line of stdout is a JSON object of what it measured; the
parent test checks the values.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def main(output_dir: Path) -> dict:
    start = time.perf_counter()
    import tensorflow as tf

    from keras_spiking_rnn import LeakyReadout, SpikingRNN
    from keras_spiking_rnn._keras import LEGACY, keras
    from keras_spiking_rnn.data import load_mnist1d
    from keras_spiking_rnn.export import export_tflite_micro
    from keras_spiking_rnn.quantization.tfmot import quantize_model, quantize_scope, strip_quantization

    report: dict = {"legacy": LEGACY, "keras_module": keras.__name__, "tf_keras_is_legacy": "tf_keras" in str(tf.keras)}
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = load_mnist1d()
    x, y = x[:1000], y[:1000]
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            SpikingRNN(
                24,
                neuron="alif",
                return_sequences=True,
                tau_m_initializer=keras.initializers.RandomNormal(5.0, 1.0),
                kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0),
            ),
            LeakyReadout(10, output_mode="mean", tau_m_initializer=keras.initializers.RandomNormal(5.0, 1.0)),
        ]
    )
    qat = quantize_model(model)
    report["qat_layers"] = [type(layer).__name__ for layer in qat.layers]
    qat.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    history = qat.fit(x, y, batch_size=32, epochs=1, verbose=0)
    report["loss"] = float(history.history["loss"][-1])
    report["train_accuracy"] = float(history.history["accuracy"][-1])
    report["qat_test_accuracy"] = float(qat.evaluate(x_test, y_test, verbose=0)[1])

    # Save and reload the QAT model (h5; tfmot 0.8.1's QuantizeLayer does not reload from .keras, see the report).
    predictions = qat.predict(x_test[:100], verbose=0)
    with quantize_scope():
        qat.save(output_dir / "qat.h5")
        reloaded = keras.models.load_model(output_dir / "qat.h5")
    report["reload_max_difference"] = float(np.abs(reloaded.predict(x_test[:100], verbose=0) - predictions).max())
    report["reload_layers"] = [type(layer).__name__ for layer in reloaded.layers]

    stripped = strip_quantization(qat)
    report["stripped_layers"] = [type(layer).__name__ for layer in stripped.layers]
    report["stripped_vs_qat_top1"] = float(
        np.mean(stripped.predict(x_test[:100], verbose=0).argmax(-1) == predictions.argmax(-1))
    )
    # Each fake-quantized matrix lies on a grid of at most 255 values: multiples of max_var / 127.
    grids = {}
    wrapper = qat.layers[1]
    ranges = {short_name(w): float(np.max(w.numpy())) for w in wrapper.weights if "_max" in w.name}
    for weight in stripped.layers[0].weights:
        name = short_name(weight)
        if name in ("kernel", "recurrent_kernel"):
            value = weight.numpy()
            steps = value / (ranges[f"{name}_max"] / 127.0)
            grids[name] = {
                "distinct": int(len(np.unique(value))),
                "size": int(value.size),
                "off_grid": float(np.abs(steps - np.round(steps)).max()),
            }
    report["grids"] = grids
    report["readout_kernel_distinct"] = int(len(np.unique(stripped.layers[1].weights[0].numpy())))

    result = export_tflite_micro(
        stripped,
        calibration_data=x[:64],
        output_dir=output_dir / "tflm",
        validation_data=(x_test[:100], y_test[:100]),
        sequence_length=40,
    )
    verification = result.verification
    report["agreement"] = verification.agreement
    report["float_accuracy"] = verification.float_accuracy
    report["int8_accuracy"] = verification.int8_accuracy
    report["input_rounding_agreement"] = verification.input_rounding_agreement
    report["ops"] = result.ops
    report["files"] = sorted(Path(path).name for path in result.files.values() if Path(path).exists())
    report["layers_round_trip"] = layers_round_trip(output_dir)
    report["other_configs"] = other_configs()
    report["errors"] = errors()
    report["seconds"] = time.perf_counter() - start
    return report


def short_name(variable) -> str:
    return variable.name.split(":")[0].split("/")[-1]


def layers_round_trip(output_dir: Path) -> dict:
    """Every layer and cell under tf-keras: build, fit, save (.keras and h5) and reload with equal outputs."""
    from keras_spiking_rnn import ALIFCell, LeakyReadout, SpikeCountReadout, SpikingRNN
    from keras_spiking_rnn._keras import keras
    from keras_spiking_rnn.layers import custom_objects_by_name

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 12, 8)).astype("float32")
    y = rng.integers(0, 10, 32)
    results = {}
    for name in ("lif", "alif", "gated", "rnn_alif_count"):
        if name == "rnn_alif_count":
            body = [keras.layers.RNN(ALIFCell(10), return_sequences=True), SpikeCountReadout()]
        else:
            body = [SpikingRNN(16, neuron=name, return_sequences=True), LeakyReadout(10, output_mode="mean")]
        model = keras.Sequential([keras.Input((None, 8)), *body])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        loss = model.fit(x, y, batch_size=16, epochs=1, verbose=0).history["loss"][-1]
        expected = model.predict(x, verbose=0)
        entry = {"loss": float(loss)}
        for suffix in (".keras", ".h5"):
            path = output_dir / f"{name}{suffix}"
            model.save(path)
            # A plain RNN's h5 config names its cell by bare class name: pass the package's classes.
            plain_h5 = suffix == ".h5" and name == "rnn_alif_count"
            loaded = keras.models.load_model(path, custom_objects=custom_objects_by_name() if plain_h5 else None)
            same_types = [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
            entry[suffix] = {
                "max_difference": float(np.abs(loaded.predict(x, verbose=0) - expected).max()),
                "same_types": same_types and type(loaded.layers[0].cell) is type(model.layers[0].cell),
            }
        results[name] = entry
    return results


def other_configs() -> dict:
    """QAT of a gated layer (output quantizer) and a SpikeCountReadout (output only): trains and strips."""
    from keras_spiking_rnn import SpikeCountReadout, SpikingRNN
    from keras_spiking_rnn._keras import keras
    from keras_spiking_rnn.quantization.tfmot import quantize_model, strip_quantization

    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 10, 4)).astype("float32")
    y = rng.integers(0, 6, 16)
    model = keras.Sequential(
        [
            keras.Input((None, 4)),
            SpikingRNN(12, neuron="gated", levels=7, dead_zone=1, return_sequences=True),
            SpikingRNN(6, neuron="lif", return_sequences=True),
            keras.layers.Dropout(0.1),
            SpikeCountReadout(),
        ]
    )
    qat = quantize_model(model, per_axis=True)
    qat.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = qat.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"][-1]
    stripped = strip_quantization(qat)
    return {
        "loss": float(loss),
        "output_quantizers": [len(getattr(layer, "_output_quantizers", [])) for layer in qat.layers],
        "stripped_layers": [type(layer).__name__ for layer in stripped.layers],
    }


def errors() -> dict:
    """The messages of the errors a user meets first."""
    from keras_spiking_rnn import LeakyReadout, SpikingRNN
    from keras_spiking_rnn._keras import keras
    from keras_spiking_rnn.quantization.tfmot import quantize_model, strip_quantization

    messages = {}
    bidirectional = keras.Sequential(
        [keras.Input((None, 3)), keras.layers.Bidirectional(SpikingRNN(4, return_sequences=True)), LeakyReadout(2)]
    )
    plain = keras.Sequential([keras.Input((None, 3)), SpikingRNN(4, return_sequences=True), LeakyReadout(2)])
    for name, call in {
        "not_a_model": lambda: quantize_model(SpikingRNN(4)),
        "bidirectional": lambda: quantize_model(bidirectional),
        "strip_plain": lambda: strip_quantization(plain),
    }.items():
        try:
            call()
            messages[name] = None
        except (TypeError, ValueError) as error:
            messages[name] = f"{type(error).__name__}: {error}"
    return messages


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("run with TF_USE_LEGACY_KERAS=1")
    print(json.dumps(main(Path(sys.argv[1]))))
