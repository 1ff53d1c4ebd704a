"""Train a two-layer spiking RNN on MNIST-1D, then save, reload and check the model.

MNIST-1D (Greydanus 2020) is generated locally by the ``mnist1d`` package:
4000 training and 1000 test sequences of 40 steps. Published test accuracies:
logistic regression 32%, MLP 68%, GRU 91%, CNN 94%.

    python examples/train_mnist1d.py                     # short run: 20 epochs, about 2 minutes on 2 CPU cores
    python examples/train_mnist1d.py --full --baseline   # the README's figures: 100 epochs, and a GRU in the same run

The script prints test accuracy, firing rates and operation counts, writes the
trained model (``model.keras``), ``results.json`` and figures (``figures/*.png``:
spike raster, membrane traces, firing-rate histograms, time constants, accuracy
over the timesteps seen) to ``--output-dir``, then exports the
model to int8 TensorFlow Lite Micro in ``--output-dir/tflm`` and verifies it
in the TFLM interpreter (skip with ``--no-export``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.analysis import accuracy_over_time, count_operations, firing_rates, record_states, spiking_layers
from keras_spiking_rnn.analysis.plots import time_constants
from keras_spiking_rnn.data import load_mnist1d, sliding_windows
from keras_spiking_rnn.regularizers import FiringRateRegularizer


def layer_settings(neuron: str, first: bool, features: int) -> dict:
    """Cell arguments for MNIST-1D, beyond the library's defaults.

    LIF/ALIF: the first layer, which sees a few numbers per step, gets input
    weights N(0, 1/features), the variance of the default lecun-normal kernel
    without its truncation, as this example has always trained. The membrane
    time constants start at the library's default N(5, 1) (the paper's
    N(20, 5) was made for 100-1000-step tasks; MNIST-1D has 40 steps). The
    gated cell runs with its defaults.
    """
    if neuron == "gated":
        return {}
    settings = {}
    if first:
        settings["kernel_initializer"] = keras.initializers.RandomNormal(0.0, features**-0.5)
    return settings


def build_model(
    neuron: str,
    units: int,
    layers: int,
    features: int,
    classes: int = 10,
    rate_target: float | None = None,
    rate_strength: float = 0.05,
    **cell_arguments,
) -> keras.Model:
    """``layers`` recurrent spiking layers of ``units`` neurons and a leaky-integrator readout.

    With ``rate_target``, each spiking layer gets a ``FiringRateRegularizer(rate_target, rate_strength)``;
    ``cell_arguments`` (e.g. ``surrogate``, ``train_time_constants``) go to every spiking layer's cell.
    """
    stack = [keras.Input((None, features))]
    for i in range(layers):
        regularizer = None if rate_target is None else FiringRateRegularizer(rate_target, rate_strength)
        stack.append(
            SpikingRNN(
                units,
                neuron=neuron,
                return_sequences=True,
                name=f"{neuron}_{i + 1}",
                firing_rate_regularizer=regularizer,
                **{**layer_settings(neuron, i == 0, features), **cell_arguments},
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


def save_figures(model: keras.Model, x_test, y_test, taus_before: dict, directory: Path) -> list[Path]:
    """Spike raster, potential and threshold traces, firing-rate histograms, time constants before and after
    training, and accuracy over the timesteps seen, as PNGs in ``directory`` (needs matplotlib)."""
    from keras_spiking_rnn.analysis import plots

    first = spiking_layers(model)[0].name
    states = record_states(model, x_test[:64], first)
    figures = {}
    ax = plots.plot_raster(states["output"], sample=0, title=f"{first}: test sequence 0 (label {y_test[0]})")
    figures["raster"] = ax
    figures["traces"] = plots.plot_traces(states, neurons=_active_neurons(states["output"]), sample=0)
    for name, activity in firing_rates(model, x_test).items():
        sequences = record_states(model, x_test[:256], name)["output"]
        figures[f"firing_rates_{name}"] = plots.plot_firing_rate_histogram(sequences)
        figures[f"firing_rates_{name}"].set_title(f"{name}: mean {activity.mean_rate:.3f} spikes per neuron and step")
    after = plots.time_constants(model)
    if first in after and "tau_m" in after[first]:
        figures["tau_m"] = plots.plot_time_constants(taus_before[first]["tau_m"], after[first]["tau_m"])
        figures["tau_m"].set_title(f"{first}: membrane time constants")
    steps, accuracy = accuracy_over_time(model, x_test, y_test, steps=range(2, x_test.shape[1] + 1, 2))
    figures["accuracy_over_time"] = plots.plot_accuracy_over_time(steps, accuracy, label=model.name)
    return [plots.save_figure(ax, directory / f"{name}.png") for name, ax in figures.items()]


def _active_neurons(spikes: np.ndarray, count: int = 3) -> list[int]:
    """The ``count`` neurons that fire most in sample 0, so that the traces show spikes."""
    return [int(i) for i in np.argsort(-(spikes[0] != 0).sum(axis=0))[:count]]


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
    parser.add_argument(
        "--rate-target", type=float, help="add a FiringRateRegularizer: spikes per neuron and step to keep"
    )
    parser.add_argument("--rate-strength", type=float, default=0.05, help="the regularizer's weight in the loss")
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="dropout on each spiking layer's inputs (one mask per sequence)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/mnist1d"))
    parser.add_argument("--no-figures", action="store_true", help="skip the PNGs in OUTPUT_DIR/figures")
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

    model = build_model(
        args.neuron,
        args.units,
        args.layers,
        x.shape[-1],
        rate_target=args.rate_target,
        rate_strength=args.rate_strength,
        **({"dropout": args.dropout} if args.dropout else {}),
    )
    model.summary()
    taus_before = time_constants(model)
    start = time.perf_counter()
    accuracy = train(model, data, epochs, args.batch_size, args.learning_rate)
    results = {
        "model": model.name,
        "epochs": epochs,
        "window": args.window,
        "test_accuracy": accuracy,
        "train_seconds": round(time.perf_counter() - start, 1),
        "firing_rates": {name: a.mean_rate for name, a in firing_rates(model, x_test).items()},
        "parameters": int(model.count_params()),
    }
    print(f"{model.name}: test accuracy {accuracy:.4f}, firing rates {results['firing_rates']}")
    operations = count_operations(model, x_test[:500])
    results["operations_per_step"] = {
        "macs": operations.macs_per_step,
        "acs": operations.acs_per_step,
        "energy_pj_theoretical": operations.energy_per_step_pj(),
    }
    print(operations)

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    same = np.array_equal(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    if not same:
        raise SystemExit(f"the reloaded model {path} does not reproduce the trained model's outputs")
    print(f"saved {path}; reloaded model reproduces every test prediction")
    if not args.no_figures and importlib.util.find_spec("matplotlib") is None:
        print("no figures: matplotlib is missing (pip install 'keras-spiking-rnn[plots]')")
    elif not args.no_figures:
        saved = save_figures(model, x_test, y_test, taus_before, args.output_dir / "figures")
        print(f"figures: {', '.join(str(p) for p in saved)}")

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
