"""Spiking RNNs against LSTM and GRU: accuracy, size, firing rates, operations, theoretical energy, int8 TFLM.

    python benchmarks/compare_models.py                  # MNIST-1D, digits, permuted digits, ablations
    python benchmarks/compare_models.py --datasets mnist1d --no-ablations
    python benchmarks/compare_models.py --shd /data/shd  # also SHD: shd_train.h5 and shd_test.h5 in that folder
    python benchmarks/compare_models.py --gsc /data/speech_commands_v0.02
    python benchmarks/compare_models.py --quick          # a smoke run of every code path (tests/test_benchmarks.py)

Every model trains with the MNIST-1D example's recipe (examples/train_mnist1d.py):
batch 64, Adam with cosine decay from 1e-2 (spiking models) or 3e-3 (LSTM,
GRU), the same epochs and seed. The models:

* LIF and ALIF SRNNs, 2 x 128, leaky-integrator readout averaged over time;
* the gated SRNN, 1 x 128, 31 levels, with a FiringRateRegularizer
  (target 0.3 spikes per neuron and step, counting a level-k output as k
  spikes; strength 0.05), which makes its outputs sparse;
* LSTM(128) and GRU(128) with a Dense readout of the last step.

Columns: test accuracy; parameters; the spiking layers' non-zero outputs
per neuron and step; MACs and ACs per step on the test data
(keras_spiking_rnn.analysis.count_operations, the cost model of Yin et al.
2021, Fig. 2a); a theoretical energy estimate (3.1 pJ/MAC, 0.1 pJ/AC, 45 nm)
and its ratio to the LSTM's; with the exporter, the int8 TFLite Micro
model's accuracy in the TFLM interpreter and its flash size. The ablations
(MNIST-1D, ALIF 2 x 128) swap the surrogate gradient and freeze the time
constants. Results go to ``--output-dir``: comparison.md, comparison.json and
comparison.png (accuracy against MACs per step); ``--replot DIR/comparison.json``
rewrites the table, the target line and the figure from the JSON alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from train_mnist1d import build_model  # noqa: E402  (the example's model recipe)

from keras_spiking_rnn.analysis.activity import firing_rates  # noqa: E402
from keras_spiking_rnn.analysis.report import count_operations  # noqa: E402

SPIKING = {
    # kind: (neuron, layers, FiringRateRegularizer target or None)
    "LIF": ("lif", 2, None),
    "ALIF": ("alif", 2, None),
    "gated": ("gated", 1, 0.3),
}
BASELINES = ("LSTM", "GRU")


def label(kind: str, units: int) -> str:
    """The table's name of a model, e.g. ``ALIF 2x128``."""
    if kind in BASELINES:
        return f"{kind} {units}"
    neuron, layers, target = SPIKING[kind]
    return f"{kind} {layers}x{units}" + (", rate-regularized" if target is not None else "")


SURROGATES = ("multi_gaussian", "gaussian", "linear", "slayer", "fast_sigmoid", "arctan", "straight_through")


def load_datasets(names: list[str], shd: Path | None, gsc: Path | None, quick: bool) -> dict:
    """``{name: (train, test, input_kind)}`` with train/test ``(x, y)`` arrays."""
    from keras_spiking_rnn import data

    datasets = {}
    if "mnist1d" in names:
        (x, y), (x_test, y_test) = data.load_mnist1d()
        datasets["MNIST-1D (8-sample frames)"] = (
            (data.sliding_windows(x, 8), y),
            (data.sliding_windows(x_test, 8), y_test),
            "dense",
        )
    if "digits" in names:
        datasets["digits, pixel by pixel"] = (*data.load_digits_sequences(), "dense")
    if "permuted-digits" in names:
        datasets["digits, permuted pixels"] = (*data.load_digits_sequences(permute=True), "dense")
    if shd is not None:
        train = data.load_spiking_audio(shd / "shd_train.h5", steps=100)
        test = data.load_spiking_audio(shd / "shd_test.h5", steps=100)
        datasets["SHD (100 steps)"] = (train, test, "spikes")
    if gsc is not None:
        datasets["Google Speech Commands"] = (_arrays(gsc, "train"), _arrays(gsc, "test"), "dense")
    if quick:  # a few sequences of each, for a smoke run
        datasets = {
            name: ((tr[0][:128], tr[1][:128]), (te[0][:64], te[1][:64]), kind)
            for name, (tr, te, kind) in datasets.items()
        }
    return datasets


def _arrays(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    from keras_spiking_rnn.data import speech_commands_dataset

    batches = list(speech_commands_dataset(root, split, batch_size=256).as_numpy_iterator())
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def build(kind: str, features: int, classes: int, units: int, **cell_arguments) -> keras.Model:
    if kind in BASELINES:
        recurrent = keras.layers.LSTM(units) if kind == "LSTM" else keras.layers.GRU(units)
        return keras.Sequential([keras.Input((None, features)), recurrent, keras.layers.Dense(classes)])
    neuron, layers, target = SPIKING[kind]
    return build_model(neuron, units, layers, features, classes, rate_target=target, **cell_arguments)


def fit(model: keras.Model, train, test, epochs: int, learning_rate: float, verbose: int) -> float:
    x, y = train
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * int(np.ceil(len(x) / 64)))
    model.compile(
        keras.optimizers.Adam(schedule),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=64, epochs=epochs, validation_data=test, verbose=verbose)
    return float(model.evaluate(*test, verbose=0)[1])


def measure(model: keras.Model, train, test, input_kind: str, export_dir: Path | None) -> dict:
    """Accuracy-independent columns: size, activity, operations, energy, and the int8 export."""
    report = count_operations(model, test[0][:500], input_kind=input_kind)
    row = {
        "parameters": int(model.count_params()),
        "macs_per_step": report.macs_per_step,
        "acs_per_step": report.acs_per_step,
        "energy_per_step_pj": report.energy_per_step_pj(),
    }
    try:
        activity = firing_rates(model, test[0][:500])
        row["nonzero_outputs"] = float(np.mean([a.mean_rate for a in activity.values()]))
    except ValueError:  # no spiking layer
        row["nonzero_outputs"] = None
    if export_dir is not None and row["nonzero_outputs"] is not None:
        from keras_spiking_rnn.export import export_tflite_micro

        result = export_tflite_micro(model, train[0][:256], export_dir, validation_data=test)
        row["int8_tflm_accuracy"] = result.verification.int8_accuracy
        row["flash_bytes"] = result.flash_bytes
    return row


def run(args) -> dict:
    keras.utils.set_random_seed(args.seed)
    datasets = load_datasets(args.datasets, args.shd, args.gsc, args.quick)
    verbose = 0 if args.quiet else 2
    results = {"settings": {k: str(v) for k, v in vars(args).items()}, "tables": {}, "ablations": []}
    for dataset, (train, test, input_kind) in datasets.items():
        features, classes = train[0].shape[-1], int(max(train[1].max(), test[1].max()) + 1)
        rows = []
        for kind in (*SPIKING, *BASELINES):
            keras.utils.set_random_seed(args.seed)
            model = build(kind, features, classes, args.units)
            start = time.perf_counter()
            rate = 3e-3 if kind in BASELINES else 1e-2
            accuracy = fit(model, train, test, args.epochs, rate, verbose)
            seconds = time.perf_counter() - start
            name = label(kind, args.units)
            slug = f"{dataset.split()[0].lower()}_{kind.lower()}"
            export_dir = args.output_dir / "tflm" / slug if args.export and dataset.startswith("MNIST-1D") else None
            if export_dir is not None:
                export_dir.parent.mkdir(parents=True, exist_ok=True)
            row = {"model": name, "test_accuracy": accuracy, "train_seconds": round(seconds, 1)}
            row.update(measure(model, train, test, input_kind, export_dir))
            rows.append(row)
            print(f"{dataset} | {name}: {json.dumps(row)}", flush=True)
        lstm = next(r for r in rows if r["model"].startswith("LSTM"))
        for row in rows:
            row["energy_vs_lstm"] = row["energy_per_step_pj"] / lstm["energy_per_step_pj"]
            row["lstm_macs_over_macs"] = lstm["macs_per_step"] / row["macs_per_step"]
        results["tables"][dataset] = rows
    if args.ablations and "mnist1d" in args.datasets:
        results["ablations"] = ablations(datasets["MNIST-1D (8-sample frames)"], args, verbose)
    return results


def ablations(dataset, args, verbose: int) -> list[dict]:
    train, test, input_kind = dataset
    variants = [(f"surrogate={s}", {"surrogate": s}) for s in (SURROGATES[:2] if args.quick else SURROGATES)]
    variants.append(("fixed time constants", {"train_time_constants": False}))
    rows = []
    for label, arguments in variants:
        keras.utils.set_random_seed(args.seed)
        model = build("ALIF", train[0].shape[-1], 10, args.units, **arguments)
        accuracy = fit(model, train, test, args.ablation_epochs, 1e-2, verbose)
        activity = firing_rates(model, test[0][:500])
        rows.append(
            {
                "variant": label,
                "test_accuracy": accuracy,
                "nonzero_outputs": float(np.mean([a.mean_rate for a in activity.values()])),
                "macs_per_step": count_operations(model, test[0][:500], input_kind=input_kind).macs_per_step,
            }
        )
        print(f"ablation | {label}: {json.dumps(rows[-1])}", flush=True)
    return rows


def to_markdown(results: dict, command: str) -> str:
    lines = [f"Command: `{command}`", ""]
    for dataset, rows in results["tables"].items():
        lines += [
            f"### {dataset}",
            "",
            "| model | test accuracy | parameters | non-zero outputs | MACs / step | ACs / step | LSTM MACs / MACs "
            "| energy / step (theoretical) | energy vs LSTM | int8 TFLM accuracy | flash bytes |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            rate = "all" if r["nonzero_outputs"] is None else f"{r['nonzero_outputs']:.3f}"
            int8 = f"{r['int8_tflm_accuracy']:.1%}" if "int8_tflm_accuracy" in r else "-"
            flash = f"{r['flash_bytes']:,}" if "flash_bytes" in r else "-"
            lines.append(
                f"| {r['model']} | {r['test_accuracy']:.1%} | {r['parameters']:,} | {rate} | {r['macs_per_step']:,.0f} "
                f"| {r['acs_per_step']:,.0f} | {r['lstm_macs_over_macs']:.1f}x "
                f"| {r['energy_per_step_pj'] / 1000:.2f} nJ | {r['energy_vs_lstm']:.3f} | {int8} | {flash} |"
            )
        lines.append("")
    if results["ablations"]:
        lines += [
            f"### Ablations (MNIST-1D, {label('ALIF', int(results['settings']['units']))})",
            "",
            "| variant | test accuracy | non-zero outputs | MACs / step |",
            "| --- | ---: | ---: | ---: |",
        ]
        for r in results["ablations"]:
            accuracy, rate, macs = r["test_accuracy"], r["nonzero_outputs"], r["macs_per_step"]
            lines.append(f"| {r['variant']} | {accuracy:.1%} | {rate:.3f} | {macs:,.0f} |")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> Path | None:
    """Accuracy against MACs per step (log scale), one panel per dataset; None without matplotlib."""
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no comparison.png: matplotlib is missing (pip install 'keras-spiking-rnn[plots]')")
        return None
    tables = results["tables"]
    fig, axes = plt.subplots(1, len(tables), figsize=(4.6 * len(tables), 3.8), squeeze=False)
    for ax, (dataset, rows) in zip(axes[0], tables.items()):
        for row in rows:
            spiking = row["nonzero_outputs"] is not None
            ax.scatter(row["macs_per_step"], 100 * row["test_accuracy"], marker="o" if spiking else "s", s=40)
            ax.annotate(
                row["model"].split(",")[0],
                (row["macs_per_step"], 100 * row["test_accuracy"]),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # decades only: minor labels overlap
        ax.set_xlabel("MACs per timestep (log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(dataset, fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def target_met(results: dict) -> str:
    """The issue's target on MNIST-1D: an ALIF or gated SRNN within 1 point of the GRU, with >= 10x fewer MACs per
    step than the LSTM, where the LSTM is no more than 1 point more accurate than that SRNN (a more accurate LSTM
    might be shrunk to the SRNN's accuracy, and its MACs with it)."""
    rows = results["tables"].get("MNIST-1D (8-sample frames)")
    if not rows:
        return "target: not measured (no MNIST-1D table)"
    gru = next(r for r in rows if r["model"].startswith("GRU"))
    lstm = next(r for r in rows if r["model"].startswith("LSTM"))
    for r in rows:
        close_to_gru = r["test_accuracy"] >= gru["test_accuracy"] - 0.01
        lstm_not_better = lstm["test_accuracy"] <= r["test_accuracy"] + 0.01
        if r["model"].startswith(("ALIF", "gated")) and close_to_gru and lstm_not_better:
            if r["lstm_macs_over_macs"] >= 10:
                return (
                    f"target met: {r['model']} {r['test_accuracy']:.1%} (GRU {gru['test_accuracy']:.1%}) with "
                    f"{r['lstm_macs_over_macs']:.1f}x fewer MACs per step than the LSTM ({lstm['test_accuracy']:.1%})"
                )
    return "target not met on MNIST-1D"


def write_outputs(results: dict, directory: Path) -> str:
    """comparison.json, comparison.md and comparison.png in ``directory``; returns the Markdown."""
    table = to_markdown(results, results["command"]) + "\n" + results["target"] + "\n"
    (directory / "comparison.json").write_text(json.dumps(results, indent=2) + "\n")
    (directory / "comparison.md").write_text(table)
    plot(results, directory / "comparison.png")
    return table


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--datasets",
        nargs="*",
        default=["mnist1d", "digits", "permuted-digits"],
        choices=["mnist1d", "digits", "permuted-digits"],
    )
    parser.add_argument("--shd", type=Path, help="folder with shd_train.h5 and shd_test.h5 (gunzipped)")
    parser.add_argument("--gsc", type=Path, help="the unpacked Google Speech Commands folder")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--ablation-epochs", type=int, default=40)
    parser.add_argument("--no-ablations", dest="ablations", action="store_false")
    parser.add_argument("--no-export", dest="export", action="store_false", help="skip the int8 TFLM columns")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch, 16 units, 128 sequences: a smoke run")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log, only a line per trained model")
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument(
        "--replot", type=Path, help="rewrite comparison.md/.png (and the target line) from a comparison.json alone"
    )
    args = parser.parse_args(argv)
    if args.replot is not None:  # the tables, the target and the figure again, from the results alone
        results = json.loads(args.replot.read_text())
        results.setdefault("command", "python benchmarks/compare_models.py")
        results["target"] = target_met(results)
        print(write_outputs(results, args.replot.parent))
        return results
    for name in ("epochs", "ablation_epochs", "units"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.quick:
        args.epochs, args.ablation_epochs, args.units = 1, 1, 16
    args.output_dir.mkdir(parents=True, exist_ok=True)
    results = run(args)
    results["command"] = (
        "python benchmarks/compare_models.py " + " ".join(sys.argv[1:] if argv is None else argv)
    ).strip()
    results["target"] = target_met(results)
    print(write_outputs(results, args.output_dir))
    return results


if __name__ == "__main__":
    main()
