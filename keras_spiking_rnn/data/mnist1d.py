"""MNIST-1D (Greydanus 2020): 10-class sequences of length 40, generated locally."""

from __future__ import annotations

import numpy as np


def load_mnist1d(seed: int = 42) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Generates MNIST-1D with the ``mnist1d`` package (procedural; nothing is downloaded).

    The standard split: 4000 training and 1000 test sequences of 40 steps,
    one feature per step. Published test accuracies: logistic regression 32%,
    MLP 68%, GRU 91%, CNN 94% (Greydanus 2020).

    Args:
        seed: the generator's seed; 42 gives the standard dataset.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32 of shape
            (n, 40, 1) and ``y`` int64 of shape (n,).

    Raises:
        ImportError: if ``mnist1d`` is missing (``pip install keras-spiking-rnn[data]``).

    Examples:
        >>> (x, y), (x_test, y_test) = load_mnist1d()
        >>> x.shape, x_test.shape
        ((4000, 40, 1), (1000, 40, 1))
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("load_mnist1d needs the `mnist1d` package: pip install 'keras-spiking-rnn[data]'") from error
    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    x_train = data["x"].astype("float32")[..., None]
    x_test = data["x_test"].astype("float32")[..., None]
    return (x_train, data["y"].astype("int64")), (x_test, data["y_test"].astype("int64"))


def sliding_windows(x: np.ndarray, size: int) -> np.ndarray:
    """Turns one-feature sequences into frames of the last ``size`` samples (zeros before the start).

    Yin et al. (2021) read PS-MNIST through a sliding window of 4 pixels with
    stride 1; this is the same encoding for any window.

    Args:
        x: array of shape (batch, timesteps, 1).
        size: window length, >= 1 (1 returns ``x`` unchanged).

    Returns:
        float32 array of shape (batch, timesteps, size); frame ``t`` holds
            ``x[t - size + 1], ..., x[t]``, so each step sees only the past.

    Raises:
        ValueError: if ``x`` is not (batch, timesteps, 1) or ``size`` < 1.

    Examples:
        >>> sliding_windows(np.arange(4.0).reshape(1, 4, 1), 2)[0]
        array([[0., 0.],
               [0., 1.],
               [1., 2.],
               [2., 3.]], dtype=float32)
    """
    if x.ndim != 3 or x.shape[-1] != 1:
        raise ValueError(f"sliding_windows: `x` must have shape (batch, timesteps, 1), got {x.shape}.")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"sliding_windows: `size` must be an integer >= 1, got {size!r}.")
    padded = np.pad(x[..., 0], ((0, 0), (size - 1, 0)))
    steps = x.shape[1]
    return np.stack([padded[:, i : i + steps] for i in range(size)], axis=-1).astype("float32")
