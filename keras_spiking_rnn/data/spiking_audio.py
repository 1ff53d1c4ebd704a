"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) (Cramer et al. 2020) from their HDF5 files.

Both data sets are spoken words passed through a cochlear model: 700 channels
of spike times. SHD has 20 classes (English and German digits; 8156 training
and 2264 test samples), SSC 35 (``ssc_train.h5``, ``ssc_valid.h5``,
``ssc_test.h5``). Nothing is downloaded here: fetch the files from
https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/ , unpack them
(``gunzip shd_train.h5.gz``) and pass the path of the ``.h5`` file.

Each file holds ``spikes/times`` (per sample, a variable-length array of spike
times in seconds), ``spikes/units`` (per sample, the channel 0..699 of each
spike) and ``labels`` (one integer per sample); SHD's ``extra/`` group
(speakers, keys, metadata) is not read. Reading needs ``h5py``
(``pip install 'keras-spiking-rnn[speech]'``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

#: Where the published files are described and downloaded.
SPIKING_AUDIO_URL = "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/"
#: The datasets every SHD / SSC file has (``extra/`` is SHD-only and not needed).
REQUIRED_DATASETS = ("spikes/times", "spikes/units", "labels")
_READ_CHUNK = 256  # samples read from the file at a time by load_spiking_audio


def _positive_int(function: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{function}: `{name}` must be a positive integer, got {value!r}.")
    return int(value)


def _positive_duration(function: str, duration) -> float:
    if isinstance(duration, bool) or not isinstance(duration, (int, float, np.number)) or not duration > 0:
        raise ValueError(f"{function}: `duration` must be a positive number of seconds, got {duration!r}.")
    if not np.isfinite(duration):
        raise ValueError(f"{function}: `duration` must be finite, got {duration!r}.")
    return float(duration)


def _time_bins(times: np.ndarray, steps: int, duration: float) -> np.ndarray:
    """The bin of each spike time: ``k`` with ``edge[k] <= t < edge[k + 1]``; ``steps`` for ``t >= duration``."""
    edges = np.arange(steps + 1, dtype=np.float64) * duration / steps
    if np.issubdtype(times.dtype, np.floating):
        # The boundaries as the times' own precision stores them: a float32 time written as 0.012 falls in the bin
        # that starts at 0.012, although float32(0.012) * 250 is not exactly 3.
        edges = edges.astype(times.dtype)
    return np.searchsorted(edges, times, side="right") - 1


def bin_spikes(
    times: np.ndarray,
    units: np.ndarray,
    steps: int,
    channels: int = 700,
    duration: float = 1.0,
    dtype: str = "float32",
    binary: bool = False,
) -> np.ndarray:
    """Counts one sample's spikes in ``steps`` equal time bins per channel.

    Bin ``k`` covers ``[k * duration / steps, (k + 1) * duration / steps)``:
    a spike exactly on a boundary goes to the later bin, and spikes at or
    after ``duration`` are dropped (SHD words last up to about 1.4 s; raise
    ``duration`` to keep them). The boundaries are compared at the precision
    of ``times`` (float32 in the published files), so a time stored as
    ``float32(0.012)`` starts bin 3 of 4 ms bins. Yin et al. (2021) read SHD
    as 250 steps of 4 ms over 1 s.

    Args:
        times: spike times in seconds, shape (spikes,), float (>= 0).
        units: the channel of each spike, shape (spikes,), integers in
            ``[0, channels)``.
        steps: number of time bins (> 0).
        channels: number of input channels (700 for SHD and SSC).
        duration: the time covered by the bins, in seconds (> 0).
        dtype: the dtype of the result.
        binary: clip counts to 1 (a spike / no spike per bin and channel).

    Returns:
        Array of shape (steps, channels) and type ``dtype``: the number of
            spikes of each channel in each bin (0 or 1 when ``binary``).

    Raises:
        ValueError: if ``times`` and ``units`` are not 1-D of the same length,
            a time is negative or not finite, a unit is not an integer in
            ``[0, channels)``, or ``steps``, ``channels`` or ``duration`` is
            not positive.

    Examples:
        >>> bin_spikes(np.array([0.0, 0.3, 0.5, 0.99]), np.array([1, 0, 1, 1]), steps=2, channels=2)
        array([[1., 1.],
               [0., 2.]], dtype=float32)
    """
    steps = _positive_int("bin_spikes", "steps", steps)
    channels = _positive_int("bin_spikes", "channels", channels)
    duration = _positive_duration("bin_spikes", duration)
    times, units = np.asarray(times), np.asarray(units)
    if times.ndim != 1 or units.shape != times.shape:
        raise ValueError(
            "bin_spikes: `times` and `units` must be 1-D arrays of the same length (one entry per spike), "
            f"got shapes {times.shape} and {units.shape}."
        )
    if times.size and not (np.issubdtype(times.dtype, np.floating) or np.issubdtype(times.dtype, np.integer)):
        raise ValueError(f"bin_spikes: `times` must be numbers (seconds), got dtype {times.dtype}.")
    if times.size and (not np.isfinite(times).all() or times.min() < 0):
        bad = times[~np.isfinite(times) | (times < 0)][0].item()
        raise ValueError(f"bin_spikes: spike `times` must be finite and >= 0 seconds, got {bad!r}.")
    if units.size:
        if not np.issubdtype(units.dtype, np.integer):
            if not np.issubdtype(units.dtype, np.floating) or not np.array_equal(units, np.round(units)):
                raise ValueError(f"bin_spikes: `units` must be integer channel indices, got dtype {units.dtype}.")
        if units.min() < 0 or units.max() >= channels:
            bad = units[(units < 0) | (units >= channels)][0].item()
            raise ValueError(
                f"bin_spikes: `units` must be channel indices in [0, {channels}), got {bad!r}; "
                "pass `channels` = the number of input channels (700 for SHD and SSC)."
            )
    bins = _time_bins(times, steps, duration)
    kept = bins < steps
    flat = bins[kept] * channels + units[kept].astype(np.int64)
    counts = np.bincount(flat, minlength=steps * channels).reshape(steps, channels)
    if binary:
        counts = np.minimum(counts, 1)
    return counts.astype(dtype)


def _import_h5py(function: str):
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{function} reads HDF5 files with the `h5py` package: pip install 'keras-spiking-rnn[speech]'"
        ) from error
    return h5py


def _open(function: str, path):
    """Opens an SHD / SSC file read-only after checking that it exists and has the published layout."""
    h5py = _import_h5py(function)
    path = os.fspath(path)
    if not os.path.isfile(path):
        hint = f" ({path}.gz exists: unpack it with `gunzip {path}.gz`)" if os.path.isfile(path + ".gz") else ""
        raise FileNotFoundError(
            f"{function}: no file at `path` {path!r}{hint}. Download SHD / SSC from {SPIKING_AUDIO_URL} and "
            "gunzip the .h5.gz files."
        )
    with open(path, "rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            raise ValueError(f"{function}: {path!r} is gzip-compressed; unpack it first (`gunzip`) and pass the .h5.")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{function}: {path!r} is not an HDF5 file ({error}).") from error
    missing = [name for name in REQUIRED_DATASETS if not isinstance(file.get(name), h5py.Dataset)]
    if missing:
        file.close()
        raise ValueError(
            f"{function}: {path!r} lacks the dataset(s) {missing}; SHD / SSC files have {list(REQUIRED_DATASETS)} "
            "(per sample: variable-length spike times in seconds, variable-length channel indices, one label)."
        )
    lengths = {name: file[name].shape for name in REQUIRED_DATASETS}
    if len(set(lengths.values())) != 1 or len(lengths["labels"]) != 1:
        file.close()
        raise ValueError(
            f"{function}: {path!r} must hold one entry per sample in each of {list(REQUIRED_DATASETS)}, "
            f"got shapes {lengths}."
        )
    return file


def _check_limit(function: str, limit, total: int) -> int:
    if limit is None:
        return total
    return min(_positive_int(function, "limit", limit), total)


def _read(file, indices: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The spike times and units of the samples ``indices`` (in that order), read with one access per dataset."""
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    if ordered.size and ordered[-1] - ordered[0] + 1 == ordered.size:
        selection = slice(int(ordered[0]), int(ordered[-1]) + 1)  # contiguous: a slice is much faster
    else:
        selection = ordered.tolist()
    times, units = file["spikes/times"][selection], file["spikes/units"][selection]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return [times[i] for i in inverse], [units[i] for i in inverse]


def _bin_batch(function, path, times, units, steps, channels, duration, binary, first) -> np.ndarray:
    x = np.zeros((len(times), steps, channels), "float32")
    for i, (t, u) in enumerate(zip(times, units)):
        try:
            x[i] = bin_spikes(t, u, steps, channels, duration, binary=binary)
        except ValueError as error:
            raise ValueError(f"{function}: sample {first[i]} of {path!r}: {error}") from None
    return x


def load_spiking_audio(
    path: str | os.PathLike,
    steps: int = 250,
    channels: int = 700,
    duration: float = 1.0,
    binary: bool = False,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Reads an SHD or SSC file into memory as binned spike counts.

    The whole result is held in memory: SHD's training set at 250 x 700 steps
    is 5.7 GB in float32, so use ``limit`` for a subset or
    [`spiking_audio_dataset`][keras_spiking_rnn.data.spiking_audio.spiking_audio_dataset] to stream batches.

    Args:
        path: an unpacked file such as ``shd_train.h5`` or ``ssc_valid.h5``
            (downloaded from https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/
            and gunzipped).
        steps: time bins per sample (see [`bin_spikes`][keras_spiking_rnn.data.spiking_audio.bin_spikes] for the
            bin rule).
        channels: input channels (700 in the published files).
        duration: seconds covered by the bins; later spikes are dropped.
        binary: clip counts to 1 per bin and channel.
        limit: read only the first ``limit`` samples (None: all).

    Returns:
        ``(x, y)``: ``x`` float32 of shape (n, steps, channels), ``y`` int64
            labels of shape (n,), in file order.

    Raises:
        ImportError: if ``h5py`` is missing (``pip install 'keras-spiking-rnn[speech]'``).
        FileNotFoundError: if there is no file at ``path``.
        ValueError: a gzip-compressed or non-HDF5 file, missing datasets,
            a unit index >= ``channels``, or bad ``steps`` / ``duration`` / ``limit``.

    Examples:
        >>> x, y = load_spiking_audio("data/shd_test.h5", limit=100)  # doctest: +SKIP
        >>> x.shape, y[:5]  # doctest: +SKIP
        ((100, 250, 700), array([...]))
    """
    function = "load_spiking_audio"
    steps = _positive_int(function, "steps", steps)
    channels = _positive_int(function, "channels", channels)
    duration = _positive_duration(function, duration)
    with _open(function, path) as file:
        n = _check_limit(function, limit, len(file["labels"]))
        labels = np.asarray(file["labels"][:n]).astype("int64")
        x = np.zeros((n, steps, channels), "float32")
        for start in range(0, n, _READ_CHUNK):
            indices = np.arange(start, min(start + _READ_CHUNK, n))
            times, units = _read(file, indices)
            x[indices] = _bin_batch(function, os.fspath(path), times, units, steps, channels, duration, binary, indices)
    return x, labels


def spiking_audio_dataset(
    path: str | os.PathLike,
    steps: int = 250,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    channels: int = 700,
    duration: float = 1.0,
    binary: bool = False,
    limit: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Streams an SHD or SSC file as batches of binned spike counts, reading and binning one batch at a time.

    Only the labels are read up front; each batch's spike times are read
    from the file and binned when the batch is requested, so memory stays
    proportional to ``batch_size`` (SSC's training set would need tens of
    gigabytes as a dense array). Unit indices are checked batch by batch: a
    bad file fails while iterating, as ``tf.errors.InvalidArgumentError``
    carrying this module's ``ValueError`` message.

    Args:
        path: an unpacked file such as ``shd_train.h5`` or ``ssc_train.h5``
            (downloaded from https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/
            and gunzipped).
        steps: time bins per sample (see [`bin_spikes`][keras_spiking_rnn.data.spiking_audio.bin_spikes] for the
            bin rule).
        batch_size: samples per batch (> 0).
        shuffle: visit the samples in a new random order on every pass.
        seed: the shuffling seed: pass ``k`` uses ``numpy.random.default_rng([seed, k])``,
            so runs are reproducible; None draws fresh orders.
        channels: input channels (700 in the published files).
        duration: seconds covered by the bins; later spikes are dropped.
        binary: clip counts to 1 per bin and channel.
        limit: use only the first ``limit`` samples of the file (None: all).
        drop_remainder: drop the last, smaller batch.

    Returns:
        A prefetched ``tf.data.Dataset`` of ``(x, y)``: ``x`` float32 of shape
            (batch, steps, channels), ``y`` int64 of shape (batch,); in file
            order unless ``shuffle``. Its cardinality is the number of batches.

    Raises:
        ImportError: if ``h5py`` is missing (``pip install 'keras-spiking-rnn[speech]'``).
        FileNotFoundError: if there is no file at ``path``.
        ValueError: a gzip-compressed or non-HDF5 file, missing datasets, or
            bad ``steps`` / ``batch_size`` / ``duration`` / ``limit``.

    Examples:
        >>> train = spiking_audio_dataset("data/shd_train.h5", shuffle=True, seed=0)  # doctest: +SKIP
        >>> model.fit(train, validation_data=spiking_audio_dataset("data/shd_test.h5"), epochs=10)  # doctest: +SKIP
    """
    function = "spiking_audio_dataset"
    steps = _positive_int(function, "steps", steps)
    batch_size = _positive_int(function, "batch_size", batch_size)
    channels = _positive_int(function, "channels", channels)
    duration = _positive_duration(function, duration)
    h5py = _import_h5py(function)
    path = os.fspath(path)
    with _open(function, path) as file:
        n = _check_limit(function, limit, len(file["labels"]))
        labels = np.asarray(file["labels"][:n]).astype("int64")
    batches = n // batch_size if drop_remainder else -(-n // batch_size)
    passes = itertools.count()

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = np.arange(n)
        if shuffle:
            order = np.random.default_rng(None if seed is None else [seed, next(passes)]).permutation(n)
        with h5py.File(path, "r") as file:
            for b in range(batches):
                indices = order[b * batch_size : (b + 1) * batch_size]
                times, units = _read(file, indices)
                x = _bin_batch(function, path, times, units, steps, channels, duration, binary, indices)
                yield x, labels[indices]

    batch = batch_size if drop_remainder else None
    dataset = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec((batch, steps, channels), tf.float32),
            tf.TensorSpec((batch,), tf.int64),
        ),
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)
