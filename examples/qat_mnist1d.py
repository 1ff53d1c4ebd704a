"""Quantization-aware fine-tuning of a trained MNIST-1D model, then int8 export verified in TFLM.

    python examples/qat_mnist1d.py runs/alif/model.keras --epochs 5 --out build/alif_qat

Loads a model saved by ``examples/train_mnist1d.py``, makes its
quantization-aware twin (``quantize_model``, ranges set on 256 training
sequences), fine-tunes it with Adam (learning rate ``--lr``) on the 4000
training sequences, exports it with the learned ranges and prints the float,
QAT and TFLM int8 accuracies with the QAT-vs-TFLM agreement on the 1000 test
sequences. Writes ``qat_results.json`` beside the export.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras

import keras_spiking_rnn  # noqa: F401  (registers the layers for loading)
from keras_spiking_rnn.data import load_mnist1d, sliding_windows
from keras_spiking_rnn.export import export_tflite_micro
from keras_spiking_rnn.quantization import quantize_model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a model saved by examples/train_mnist1d.py")
    parser.add_argument("--out", type=Path, default=Path("build/mnist1d_qat"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--per-channel", action="store_true", help="one weight scale per output neuron")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fine-tuning's shuffling")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    results_file = args.model.parent / "results.json"
    window = json.loads(results_file.read_text())["window"] if results_file.exists() else 8
    (x_train, y_train), (x_test, y_test) = load_mnist1d()
    x_train, x_test = sliding_windows(x_train, window), sliding_windows(x_test, window)

    model = keras.models.load_model(args.model)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(loss=loss, metrics=["accuracy"])
    float_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    qat = quantize_model(model, per_channel=args.per_channel, calibration_data=x_train[:256])
    qat.compile(keras.optimizers.Adam(args.lr), loss, metrics=["accuracy"])
    before = qat.evaluate(x_test, y_test, verbose=0)[1]
    qat.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_data=(x_test, y_test))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = export_tflite_micro(qat, x_train[:256], args.out, validation_data=(x_test, y_test))
    print(result)
    summary = {
        "model": str(args.model),
        "epochs": args.epochs,
        "lr": args.lr,
        "per_channel": args.per_channel,
        "seed": args.seed,
        "float_accuracy": float_accuracy,
        "qat_accuracy_before_fit": before,
        "qat_accuracy": result.verification.float_accuracy,
        "int8_accuracy": result.verification.int8_accuracy,
        "qat_tflm_agreement": result.verification.agreement,
    }
    (args.out / "qat_results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
