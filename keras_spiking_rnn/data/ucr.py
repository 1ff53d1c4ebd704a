"""UCR/UEA time-series classification sets that the ``aeon`` wheel bundles: offline, as (n, timesteps, channels)."""

from __future__ import annotations

import numpy as np

from keras_spiking_rnn.data.pipelines import PAD_VALUE

BUNDLED = ("ACSF1", "ArrowHead", "GunPoint", "ItalyPowerDemand", "OSULeaf", "PickupGestureWiimoteZ")
"""The classification sets ``aeon`` ships inside its wheel, which ``load_ucr`` reads without a download."""


def _read(name: str, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """aeon's ``split`` of ``name`` as a list of float64 (timesteps, channels) arrays and the string labels."""
    try:
        from aeon.datasets import load_classification
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_ucr needs the `aeon` package (which bundles the data sets): pip install 'keras-spiking-rnn[data]'"
        ) from error
    x, y = load_classification(name, split=split)
    # (n, channels, length) for equal-length sets, a list of (channels, length_i) for variable-length ones
    return [np.asarray(sample, dtype="float64").T for sample in x], np.asarray(y).astype(str)


def _label_order(labels: np.ndarray) -> list[str]:
    """The sorted unique labels: numerically if every label is a number (so "10" follows "9"), else as strings."""
    unique = sorted(set(labels.tolist()))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


def load_ucr(name: str, normalize: bool = True) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads a UCR/UEA classification set bundled with ``aeon`` (nothing is downloaded), time-major per sample.

    The original train/test split of the archive. Each sample becomes a
    (timesteps, channels) sequence (aeon's (channels, length) transposed).
    Labels are mapped to 0..k-1 in the order of the sorted unique training
    labels (numerically when they are all numbers, as in the archive).

    ``normalize=True`` z-normalizes each channel with one mean and one
    standard deviation per channel computed on the training set over all of
    its real steps, and applies them to both sets (a constant channel keeps
    a standard deviation of 1).

    Variable-length sets (PickupGestureWiimoteZ) are padded at the end to the
    longest sequence over both splits, and missing values (NaN, with which
    some archive sets pad) are replaced: every padded or missing step holds
    [`PAD_VALUE`][keras_spiking_rnn.data.pipelines.PAD_VALUE] in every
    channel, after normalization, and is ignored by it. Start such a model
    with ``keras.layers.Masking(PAD_VALUE)`` to skip those steps.

    Args:
        name: one of ``BUNDLED``: ``"ACSF1"``, ``"ArrowHead"``, ``"GunPoint"``,
            ``"ItalyPowerDemand"``, ``"OSULeaf"``, ``"PickupGestureWiimoteZ"``.
        normalize: z-normalize each channel with the training set's statistics.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32 of shape
            (n, timesteps, channels) and ``y`` int64 of shape (n,); GunPoint:
            (50, 150, 1) and (150, 150, 1), labels 0 and 1.

    Raises:
        ValueError: if ``name`` is not a bundled set, or the test set has a
            label the training set lacks.
        ImportError: if ``aeon`` is missing (``pip install 'keras-spiking-rnn[data]'``).

    Examples:
        >>> (x, y), (x_test, y_test) = load_ucr("GunPoint")
        >>> x.shape, x_test.shape, sorted(set(y.tolist()))
        ((50, 150, 1), (150, 150, 1), [0, 1])
        >>> (x, y), _ = load_ucr("PickupGestureWiimoteZ")  # 29 to 361 steps, padded to 361
        >>> x.shape, float(x[0, -1, 0])
        ((50, 361, 1), -1.0)
    """
    if not isinstance(name, str) or name not in BUNDLED:
        raise ValueError(
            f"load_ucr: `name` must be one of the data sets aeon bundles, {', '.join(BUNDLED)}; got {name!r}."
        )
    (train, y_train), (test, y_test) = _read(name, "train"), _read(name, "test")
    classes = _label_order(y_train)
    unseen = sorted(set(y_test.tolist()) - set(classes))
    if unseen:
        raise ValueError(f"load_ucr: the {name} test set has labels the training set lacks: {unseen}.")
    index = {label: i for i, label in enumerate(classes)}

    steps = max(len(sample) for sample in (*train, *test))
    channels = train[0].shape[1]

    def stack(samples: list[np.ndarray]) -> np.ndarray:
        padded = np.full((len(samples), steps, channels), np.nan)
        for i, sample in enumerate(samples):
            padded[i, : len(sample)] = sample
        return padded

    x_train, x_test = stack(train), stack(test)
    if normalize:
        mean = np.nanmean(x_train, axis=(0, 1))
        std = np.nanstd(x_train, axis=(0, 1))
        std = np.where(std > 0, std, 1.0)
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    # a step with a missing channel is padding in every channel, so that Masking(PAD_VALUE) sees it
    for x in (x_train, x_test):
        x[np.isnan(x).any(axis=-1)] = PAD_VALUE

    def labels(y: np.ndarray) -> np.ndarray:
        return np.array([index[label] for label in y.tolist()], dtype="int64")

    return (x_train.astype("float32"), labels(y_train)), (x_test.astype("float32"), labels(y_test))
