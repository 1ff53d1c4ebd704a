"""Train a two-layer spiking RNN on MNIST-1D, then save, reload and check the model.

MNIST-1D (Greydanus 2020) is generated locally by the ``mnist1d`` package:
4000 training and 1000 test sequences of 40 steps. Published test accuracies:
logistic regression 32%, MLP 68%, GRU 91%, CNN 94%.

    python examples/train_mnist1d.py                     # short run: 20 epochs, about 2 minutes on 2 CPU cores
    python examples/train_mnist1d.py --full --baseline   # the README's figures: 100 epochs, and a GRU in the same run

The script prints test accuracy and firing rates, writes the trained model
(``model.keras``) and ``results.json`` to ``--output-dir``, then exports the
model to int8 TensorFlow Lite Micro in ``--output-dir/tflm`` and verifies it
in the TFLM interpreter (skip with ``--no-export``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.data import load_mnist1d, sliding_windows


def layer_settings(neuron: str, first: bool, features: int) -> dict:
    """Cell arguments for MNIST-1D; the library's defaults are the papers'.

    LIF/ALIF: MNIST-1D sequences are 40 steps long, so the membrane time
    constants start at N(5, 1) rather than the paper's N(20, 5) (made for
    100-1000-step tasks), and the first layer, which sees a few numbers per
    step, gets input weights N(0, 1/features) rather than Xavier-uniform
    (whose small weights leave its input current far below the recurrent
    one). Both were measured to train faster here. The gated cell runs with
    its defaults.
    """
    if neuron == "gated":
        return {}
    settings = {"tau_m_initializer": keras.initializers.RandomNormal(5.0, 1.0)}
    if first:
        settings["kernel_initializer"] = keras.initializers.RandomNormal(0.0, features**-0.5)
    return settings


def build_model(neuron: str, units: int, layers: int, features: int, classes: int = 10) -> keras.Model:
    """``layers`` recurrent spiking layers of ``units`` neurons and a leaky-integrator readout."""
    stack = [keras.Input((None, features))]
    for i in range(layers):
        stack.append(
            SpikingRNN(
                units,
                neuron=neuron,
                return_sequences=True,
                name=f"{neuron}_{i + 1}",
                **layer_settings(neuron, i == 0, features),
            )
        )
    stack.append(LeakyReadout(classes, output_mode="mean", name="readout"))
    return keras.Sequential(stack, name=f"{neuron}_srnn")


def build_gru(units: int, features: int, classes: int = 10) -> keras.Model:
    return keras.Sequential(
        [keras.Input((None, features)), keras.layers.GRU(units), keras.layers.Dense(classes)], name="gru"
    )


def train(model: keras.Model, data, epochs: int, batch_size: int, learning_rate: float) -> float:
    (x, y), (x_test, y_test) = data
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=epochs * int(np.ceil(len(x) / batch_size))
    )
    model.compile(
        keras.optimizers.Adam(schedule),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_test, y_test),
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def firing_rates(model: keras.Model, x: np.ndarray) -> dict[str, float]:
    spiking = [layer for layer in model.layers if isinstance(layer, SpikingRNN)]
    probe = keras.Model(model.inputs, [layer.output for layer in spiking])
    outputs = probe.predict(x, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return {layer.name: float(np.mean(out > 0)) for layer, out in zip(spiking, outputs)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neuron", choices=["lif", "alif", "gated"], default="alif")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--window", type=int, default=8, help="input frame: the last N samples (1 = raw sequence)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--full", action="store_true", help="the full run: 100 epochs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--baseline", action="store_true", help="also train keras.layers.GRU(units) in the same run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/mnist1d"))
    parser.add_argument(
        "--no-export", action="store_true", help="skip the int8 TFLite Micro export (written to OUTPUT_DIR/tflm)"
    )
    args = parser.parse_args(argv)
    epochs = 100 if args.full else args.epochs
    keras.utils.set_random_seed(args.seed)

    (x, y), (x_test, y_test) = load_mnist1d()
    x, x_test = sliding_windows(x, args.window), sliding_windows(x_test, args.window)
    data = (x, y), (x_test, y_test)
    print(f"MNIST-1D: {len(x)} training, {len(x_test)} test sequences of shape {x.shape[1:]}")

    model = build_model(args.neuron, args.units, args.layers, x.shape[-1])
    model.summary()
    start = time.perf_counter()
    accuracy = train(model, data, epochs, args.batch_size, args.learning_rate)
    results = {
        "model": model.name,
        "epochs": epochs,
        "window": args.window,
        "test_accuracy": accuracy,
        "train_seconds": round(time.perf_counter() - start, 1),
        "firing_rates": firing_rates(model, x_test),
        "parameters": int(model.count_params()),
    }
    print(f"{model.name}: test accuracy {accuracy:.4f}, firing rates {results['firing_rates']}")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    same = np.array_equal(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    if not same:
        raise SystemExit(f"the reloaded model {path} does not reproduce the trained model's outputs")
    print(f"saved {path}; reloaded model reproduces every test prediction")

    if not args.no_export:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from export_mnist1d import export  # examples/export_mnist1d.py, beside this file

        exported = export(model, x, x_test, y_test, args.output_dir / "tflm")
        v = exported.verification
        results["tflm"] = {
            "int8_accuracy": v.int8_accuracy,
            "float_accuracy": v.float_accuracy,
            "agreement": v.agreement,
            "flash_bytes": exported.flash_bytes,
            "weight_bytes": exported.weight_bytes,
            "arena_bytes": exported.arena_bytes,
        }

    if args.baseline:
        keras.utils.set_random_seed(args.seed)
        gru = build_gru(args.units, x.shape[-1])
        results["gru_test_accuracy"] = train(gru, data, epochs, args.batch_size, 3e-3)
        results["gru_parameters"] = int(gru.count_params())
        print(f"GRU({args.units}) baseline, same data and epochs: test accuracy {results['gru_test_accuracy']:.4f}")

    (args.output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
