"""Sequential-pixel digit tasks that exist offline: scikit-learn's 8x8 digits, pixel by pixel, optionally permuted."""

from __future__ import annotations

import numpy as np


def _seed(function: str, seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{function}: `seed` must be a non-negative integer, got {seed!r}.")
    return int(seed)


def permute_steps(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Reorders the time steps of sequences by one fixed random permutation, as in permuted sequential MNIST.

    The permutation depends only on ``seed`` and the number of steps
    (``numpy.random.default_rng(seed).permutation(timesteps)``), so training
    and test sets permuted with the same seed stay consistent; it works for
    any (batch, time, features) array, e.g. [`load_mnist1d`][keras_spiking_rnn.data.mnist1d.load_mnist1d]'s.

    Args:
        x: array of shape (batch, timesteps, features).
        seed: the permutation's seed (>= 0).

    Returns:
        Array like ``x`` (same dtype) with ``result[:, t] == x[:, p[t]]``
            for the permutation ``p``.

    Raises:
        ValueError: if ``x`` is not 3-D or ``seed`` is not a non-negative integer.

    Examples:
        >>> steps = permute_steps(np.arange(5).reshape(1, 5, 1), seed=0)[0, :, 0]
        >>> sorted(steps.tolist())
        [0, 1, 2, 3, 4]
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"permute_steps: `x` must have shape (batch, timesteps, features), got {x.shape}.")
    permutation = np.random.default_rng(_seed("permute_steps", seed)).permutation(x.shape[1])
    return x[:, permutation]


def _split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified: ``round(test_fraction * n_c)`` random samples of each class ``c`` go to the test set."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.append(rng.permutation(members)[: int(round(test_fraction * len(members)))])
    in_test = np.zeros(len(labels), bool)
    in_test[np.concatenate(test)] = True
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def load_digits_sequences(
    permute: bool = False, seed: int = 0, test_fraction: float = 0.25
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's 1797 8x8 handwritten digits read pixel by pixel: a small, offline sequential-MNIST.

    Step ``t`` is pixel ``(t // 8, t % 8)`` (row by row), scaled from 0..16
    to [0, 1]. The split is stratified: ``round(test_fraction * n)`` images of
    each digit, drawn with ``seed``, form the test set; both sets keep the
    original order. ``permute=True`` then applies [`permute_steps`][keras_spiking_rnn.data.digits.permute_steps] with
    the same ``seed`` to both sets (one permutation of the 64 positions).

    Args:
        permute: reorder the steps by a fixed random permutation.
        seed: the seed of the split and of the permutation (>= 0).
        test_fraction: the share of each class in the test set, in (0, 1).

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32 of shape
            (n, 64, 1) and ``y`` int64 of shape (n,); 1347 / 450 images for 0.25.

    Raises:
        ImportError: if scikit-learn is missing (``pip install 'keras-spiking-rnn[data]'``).
        ValueError: if ``test_fraction`` is not in (0, 1) or ``seed`` is not
            a non-negative integer.

    Examples:
        >>> (x, y), (x_test, y_test) = load_digits_sequences()
        >>> x.shape, x_test.shape
        ((1347, 64, 1), (450, 64, 1))
    """
    seed = _seed("load_digits_sequences", seed)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"load_digits_sequences: `test_fraction` must be a number in (0, 1), got {test_fraction!r}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_digits_sequences needs scikit-learn (its bundled digits): pip install 'keras-spiking-rnn[data]'"
        ) from error
    digits = load_digits()
    x = (digits.images.reshape(len(digits.images), 64, 1) / 16.0).astype("float32")
    y = digits.target.astype("int64")
    if permute:
        x = permute_steps(x, seed)
    train, test = _split(y, float(test_fraction), seed)
    return (x[train], y[train]), (x[test], y[test])
