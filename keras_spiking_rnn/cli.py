"""The ``keras-spiking-rnn`` command line.

    keras-spiking-rnn export model.keras --calibration calib.npz --validation test.npz --out build/
    keras-spiking-rnn firmware build/ --target cortex-m4 --kernels cmsis-nn --tflm path/to/tflite-micro

``calib.npz`` holds the calibration sequences as ``x`` (n, timesteps, features) (or as its only
array); ``test.npz`` holds ``x`` and, optionally, integer labels ``y``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _load_npz(path: Path, option: str, need_labels: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    if not path.is_file():
        raise SystemExit(f"error: {option}: no such file {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if "x" in names:
                x = data["x"]
            elif len(names) == 1:
                x = data[names[0]]
            else:
                raise SystemExit(f"error: {option}: {path} must hold an array 'x' (it has {names})")
            y = data["y"] if "y" in names else None
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: {option}: {path} is not a readable .npz file ({error})") from error
    if need_labels and y is None:
        raise SystemExit(f"error: {option}: {path} has no labels 'y'")
    return x, y


def _export(args: argparse.Namespace) -> int:
    import keras

    import keras_spiking_rnn  # noqa: F401  (registers the layers for loading)
    from keras_spiking_rnn.export import ExportVerificationError, export_tflite_micro

    if not args.model.is_file():
        raise SystemExit(f"error: model: no such file {str(args.model)!r}")
    calibration, _ = _load_npz(args.calibration, "--calibration")
    validation = None
    if args.validation is not None:
        x, y = _load_npz(args.validation, "--validation")
        validation = (x, y) if y is not None else x
    model = keras.models.load_model(args.model)
    try:
        result = export_tflite_micro(
            model,
            calibration,
            args.out,
            validation_data=validation,
            sequence_length=args.sequence_length,
            min_agreement=args.min_agreement,
            strict=args.strict,
            per_channel=args.per_channel,
        )
    except ExportVerificationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        raise SystemExit(f"error: {error}") from error
    print(result)
    return 0


def _firmware(args: argparse.Namespace) -> int:
    from keras_spiking_rnn.export.firmware import FirmwareError, build_and_run

    try:
        result = build_and_run(
            args.model_dir, target=args.target, kernels=args.kernels, tflm_root=args.tflm, nano=args.nano, kit=args.kit
        )
    except (FirmwareError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result)
    return 0 if result.bit_exact else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-spiking-rnn", description="keras-spiking-rnn tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export",
        help="export a trained .keras model to an int8 TFLite Micro model, C sources and report.json",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("model", type=Path, help="the trained model (.keras)")
    export.add_argument("--calibration", type=Path, required=True, help=".npz with calibration sequences 'x'")
    export.add_argument("--validation", type=Path, help=".npz with validation sequences 'x' and labels 'y'")
    export.add_argument("--out", type=Path, required=True, help="output directory (its parent must exist)")
    export.add_argument("--sequence-length", type=int, help="frames per sequence (default: the calibration's)")
    export.add_argument("--min-agreement", type=float, default=0.98, help="warn below this top-1 agreement")
    export.add_argument("--strict", action="store_true", help="fail (exit 1, write nothing) below --min-agreement")
    export.add_argument("--per-channel", action="store_true", help="one weight scale per neuron (more flash)")
    export.set_defaults(run=_export)

    firmware = commands.add_parser(
        "firmware",
        help="build an exported model's firmware (host or Cortex-M4 in QEMU), run it and compare with TFLM",
        description="Builds the firmware kit (export/) for a model directory written by `export`, runs it on the "
        "host or in qemu-system-arm (mps2-an386, Cortex-M4), and checks every int8 output of test_vectors.h. "
        "Exit code 0: bit-exact; 1: outputs differ; 2: could not build or run.",
    )
    firmware.add_argument("model_dir", type=Path, help="directory written by `keras-spiking-rnn export`")
    firmware.add_argument("--target", choices=["host", "cortex-m4"], default="host")
    firmware.add_argument("--kernels", choices=["reference", "cmsis-nn"], default="reference")
    firmware.add_argument("--tflm", type=Path, help="TFLM source tree (default: $TFLM_ROOT)")
    firmware.add_argument("--nano", action="store_true", help="link newlib-nano (cortex-m4)")
    firmware.add_argument("--kit", type=Path, help="the firmware kit (default: export/ of the source tree)")
    firmware.set_defaults(run=_firmware)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
