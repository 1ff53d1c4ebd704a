"""Export a trained MNIST-1D model to int8 TensorFlow Lite Micro and verify it in the TFLM interpreter.

    python examples/export_mnist1d.py runs/mnist1d/model.keras --out build/mnist1d

Calibrates on 256 training sequences, compares the int8 model with the Keras
model on all 1000 test sequences, and writes model.tflite, the C sources and
report.json to ``--out``. ``examples/train_mnist1d.py`` calls the same
``export`` function after training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np

import keras_spiking_rnn  # noqa: F401  (registers the layers for loading)
from keras_spiking_rnn.data import load_mnist1d, sliding_windows
from keras_spiking_rnn.export import ExportResult, export_tflite_micro


def export(model: keras.Model, x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, out: Path) -> ExportResult:
    result = export_tflite_micro(model, x_train[:256], out, validation_data=(x_test, y_test))
    print(result)
    return result


def main(argv: list[str] | None = None) -> ExportResult:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a model saved by examples/train_mnist1d.py")
    parser.add_argument("--out", type=Path, default=Path("build/mnist1d"))
    parser.add_argument("--window", type=int, help="input frame width (default: from results.json beside the model)")
    args = parser.parse_args(argv)
    window = args.window
    if window is None:
        results = args.model.parent / "results.json"
        window = json.loads(results.read_text())["window"] if results.exists() else 8
    (x, _), (x_test, y_test) = load_mnist1d()
    x, x_test = sliding_windows(x, window), sliding_windows(x_test, window)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    return export(keras.models.load_model(args.model), x, x_test, y_test, args.out)


if __name__ == "__main__":
    main()
