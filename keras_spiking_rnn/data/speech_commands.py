"""Google Speech Commands (Warden 2018) as log-Mel features with deltas, as used by Yin et al. (2021).

Nothing is downloaded here: unpack ``speech_commands_v0.02.tar.gz`` (from
http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz) and pass
its directory. The published layout is one directory per word holding 1 s,
16 kHz, mono, 16-bit ``.wav`` files, a ``_background_noise_`` directory, and
``validation_list.txt`` / ``testing_list.txt`` at the root listing relative
paths such as ``yes/0a7c2a8d_nohash_0.wav``; the training split is every
other word file. Audio is decoded with core TensorFlow (``tf.audio.decode_wav``).

Features (per 10 ms frame, 120 of them): 40 log-Mel energies over 20-4000 Hz
(Pellegrini et al. 2021, followed by Yin et al.), their first and their second
time derivatives.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

#: The sample rate of every Speech Commands recording.
SAMPLE_RATE = 16000
#: The dataset's splits (the names accepted by ``split``).
SPLITS = ("train", "validation", "test")
_LIST_FILES = {"validation": "validation_list.txt", "test": "testing_list.txt"}
_BACKGROUND = "_background_noise_"


def delta_features(features: tf.Tensor, window: int = 2) -> tf.Tensor:
    """Time derivatives of features by the standard regression formula (HTK, Young et al.).

    ``d[t] = sum_{n=1..N} n * (c[t+n] - c[t-n]) / (2 * sum_{n=1..N} n**2)``
    with ``N = window``; the first and last frames are repeated ``N`` times
    beyond the edges. A feature rising by ``a`` per frame has delta ``a``
    (``a / 2`` on the first and last frame with ``N = 2``).

    Args:
        features: tensor of shape (..., frames, features), float.
        window: ``N``, frames on each side (>= 1).

    Returns:
        float32 tensor of the shape of ``features``.

    Raises:
        ValueError: if ``features`` has fewer than 2 axes or ``window`` < 1.

    Examples:
        >>> delta_features(tf.reshape(tf.range(6.0), (6, 1)))[:, 0].numpy()
        array([0.5, 0.8, 1. , 1. , 0.8, 0.5], dtype=float32)
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"delta_features: `window` must be an integer >= 1, got {window!r}.")
    x = tf.convert_to_tensor(features, tf.float32)
    if x.shape.rank is None or x.shape.rank < 2:
        raise ValueError(f"delta_features: `features` must have shape (..., frames, features), got {x.shape}.")
    frames = tf.shape(x)[-2]
    padded = tf.concat([x[..., :1, :]] * window + [x] + [x[..., -1:, :]] * window, axis=-2)
    total = tf.zeros_like(x)
    for n in range(1, window + 1):
        later = padded[..., window + n : window + n + frames, :]
        earlier = padded[..., window - n : window - n + frames, :]
        total += n * (later - earlier)
    return total / (2.0 * sum(n * n for n in range(1, window + 1)))


def log_mel_features(
    waveform: tf.Tensor,
    sample_rate: int = SAMPLE_RATE,
    num_mel_bins: int = 40,
    lower_edge_hertz: float = 20.0,
    upper_edge_hertz: float = 4000.0,
    normalize: bool = False,
) -> tf.Tensor:
    """Log-Mel energies with first and second deltas: 30 ms Hann windows every 10 ms.

    The waveform is zero-padded by half a window (15 ms) on both sides, so
    frame ``t`` is centred on sample ``t * hop`` and a signal of ``L``
    samples gives ``1 + L // hop`` frames: 101 for 1 s. At 16 kHz a window is
    480 samples, the hop 160 and the FFT 512 long. The power spectrum is
    summed into ``num_mel_bins`` triangular bands (HTK Mel scale,
    ``tf.signal.linear_to_mel_weight_matrix``) from ``lower_edge_hertz`` to
    ``upper_edge_hertz``, then ``log(mel + 1e-6)``;
    [`delta_features`][keras_spiking_rnn.data.speech_commands.delta_features] (``N = 2``) gives the derivatives.

    Args:
        waveform: float samples in [-1, 1], shape (samples,) or (..., samples).
        sample_rate: samples per second (16000 for Speech Commands).
        num_mel_bins: Mel bands (40).
        lower_edge_hertz: the lowest band's lower edge.
        upper_edge_hertz: the highest band's upper edge (<= sample_rate / 2).
        normalize: standardize each band over time (zero mean, variance 1) before the deltas, as Yin
            et al. (2021) normalize their spectrograms; a band constant over time becomes 0.

    Returns:
        float32 tensor of shape (..., frames, 3 * num_mel_bins): log-Mel
            energies, then their deltas, then their second deltas;
            (101, 120) for 1 s at 16 kHz.

    Raises:
        ValueError: if ``waveform`` is a scalar or shorter than half a window plus one sample,
            ``sample_rate`` is not a positive integer, or the band edges are not
            ``0 <= lower < upper <= sample_rate / 2``.

    Examples:
        >>> log_mel_features(tf.zeros(16000)).shape
        TensorShape([101, 120])
    """
    x = tf.convert_to_tensor(waveform, tf.float32)
    if x.shape.rank is None or x.shape.rank < 1:
        raise ValueError(f"log_mel_features: `waveform` must have shape (..., samples), got {x.shape}.")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"log_mel_features: `sample_rate` must be a positive integer, got {sample_rate!r}.")
    if not 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2:
        raise ValueError(
            "log_mel_features: the band edges must satisfy 0 <= lower_edge_hertz < upper_edge_hertz <= "
            f"sample_rate / 2 = {sample_rate / 2}, got {lower_edge_hertz!r} and {upper_edge_hertz!r}."
        )
    frame_length = round(0.030 * sample_rate)
    hop = round(0.010 * sample_rate)
    fft_length = 1 << (frame_length - 1).bit_length()
    if x.shape[-1] is not None and x.shape[-1] < frame_length // 2 + 1:
        raise ValueError(
            f"log_mel_features: `waveform` needs at least {frame_length // 2 + 1} samples, got {x.shape[-1]}."
        )
    half = frame_length // 2
    x = tf.pad(x, [[0, 0]] * (x.shape.rank - 1) + [[half, half]])
    spectrum = tf.signal.stft(x, frame_length, hop, fft_length, window_fn=tf.signal.hann_window, pad_end=False)
    power = tf.math.square(tf.abs(spectrum))
    bands = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins, fft_length // 2 + 1, sample_rate, lower_edge_hertz, upper_edge_hertz
    )
    log_mel = tf.math.log(tf.tensordot(power, bands, 1) + 1e-6)
    if normalize:
        mean, variance = tf.nn.moments(log_mel, axes=[-2], keepdims=True)
        log_mel = (log_mel - mean) * tf.math.rsqrt(variance + 1e-6)
    first = delta_features(log_mel)
    return tf.concat([log_mel, first, delta_features(first)], axis=-1)


def read_wav(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> tf.Tensor:
    """Decodes a mono 16-bit wav file, checking its sample rate (eagerly).

    Args:
        path: the file.
        sample_rate: the expected sample rate.

    Returns:
        float32 tensor of shape (samples,) in [-1, 1].

    Raises:
        FileNotFoundError: if there is no file at ``path``.
        ValueError: if the file is not mono or not at ``sample_rate``.

    Examples:
        >>> read_wav("speech_commands/yes/0a7c2a8d_nohash_0.wav").shape  # doctest: +SKIP
        TensorShape([16000])
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_wav: no file at `path` {path!r}.")
    audio, rate = tf.audio.decode_wav(tf.io.read_file(path))
    if int(rate) != sample_rate or audio.shape[1] != 1:
        raise ValueError(
            f"read_wav: {path!r} has {audio.shape[1]} channel(s) at {int(rate)} Hz; expected mono at {sample_rate} Hz."
        )
    return audio[:, 0]


def _checked_root(function: str, root) -> str:
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"{function}: `root` {root!r} is not a directory; unpack speech_commands_v0.02.tar.gz there "
            "(directories per word, validation_list.txt, testing_list.txt)."
        )
    return root


def _read_list(function: str, root: str, split: str) -> list[str]:
    name = os.path.join(root, _LIST_FILES[split])
    if not os.path.isfile(name):
        raise FileNotFoundError(
            f"{function}: {name!r} is missing; Speech Commands has validation_list.txt and testing_list.txt "
            "at its root."
        )
    with open(name, encoding="utf-8") as handle:
        return [line.strip().replace("\\", "/") for line in handle if line.strip()]


def load_speech_commands_split(
    root: str | os.PathLike, split: str = "train", words: list[str] | None = None
) -> tuple[list[str], list[int]]:
    """Lists the wav files of one split of Speech Commands and their labels.

    ``validation`` and ``test`` are the files named in ``validation_list.txt``
    and ``testing_list.txt``; ``train`` is every ``.wav`` in a word directory
    named in neither list (``_background_noise_`` is never used).

    Args:
        root: the unpacked dataset directory.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        words: the classes, in label order; files of other words are left
            out (e.g. the 10 command words of the 12-class task, without its
            "unknown" and "silence" classes). None: every word directory,
            sorted (35 words in v0.02).

    Returns:
        ``(paths, labels)``: file paths (``root`` joined with the relative
            path) sorted by relative path, and each file's label, the index of
            its word in ``words``.

    Raises:
        FileNotFoundError: if ``root``, a list file or a listed wav is missing.
        ValueError: an unknown ``split``, ``words`` that are empty, repeated or
            not directories of ``root``, or a split without files.

    Examples:
        >>> paths, labels = load_speech_commands_split("speech_commands", "test")  # doctest: +SKIP
        >>> paths[0], labels[0]  # doctest: +SKIP
        ('speech_commands/backward/0165e0e8_nohash_0.wav', 0)
    """
    return _split("load_speech_commands_split", root, split, words)


def _split(function: str, root, split: str, words) -> tuple[list[str], list[int]]:
    root = _checked_root(function, root)
    if split not in SPLITS:
        raise ValueError(f"{function}: `split` must be one of {SPLITS}, got {split!r}.")
    available = sorted(
        name for name in os.listdir(root) if os.path.isdir(os.path.join(root, name)) and not name.startswith((".", "_"))
    )
    if words is None:
        words = available
    else:
        words = list(words)
        unknown = [w for w in words if w not in available]
        if not words or len(set(words)) != len(words) or unknown:
            raise ValueError(
                f"{function}: `words` must be distinct word directories of {root!r}, got {words!r}"
                + (f" ({unknown} are not among {available})." if unknown else ".")
            )
    index = {word: i for i, word in enumerate(words)}
    if split == "train":
        held_out = set(_read_list(function, root, "validation")) | set(_read_list(function, root, "test"))
        relative = [
            f"{word}/{name}"
            for word in words
            for name in os.listdir(os.path.join(root, word))
            if name.lower().endswith(".wav") and f"{word}/{name}" not in held_out
        ]
    else:
        relative = [r for r in _read_list(function, root, split) if r.split("/")[0] in index]
        missing = [r for r in relative if not os.path.isfile(os.path.join(root, *r.split("/")))]
        if missing:
            raise FileNotFoundError(
                f"{function}: {len(missing)} file(s) of {_LIST_FILES[split]} are missing under {root!r}, "
                f"e.g. {missing[:3]}."
            )
    if not relative:
        raise ValueError(f"{function}: the {split!r} split of {root!r} has no wav files of the words {words}.")
    relative = sorted(set(relative))
    return [os.path.join(root, *r.split("/")) for r in relative], [index[r.split("/")[0]] for r in relative]


def _features(path: tf.Tensor, label: tf.Tensor, normalize: bool) -> tuple[tf.Tensor, tf.Tensor]:
    audio, rate = tf.audio.decode_wav(tf.io.read_file(path))
    check = tf.debugging.Assert(
        tf.logical_and(tf.equal(rate, SAMPLE_RATE), tf.equal(tf.shape(audio)[1], 1)),
        ["speech_commands_dataset: expected mono 16000 Hz wav;", path, "has rate", rate, "shape", tf.shape(audio)],
    )
    with tf.control_dependencies([check]):
        audio = audio[:SAMPLE_RATE, 0]
    audio = tf.pad(audio, [[0, SAMPLE_RATE - tf.shape(audio)[0]]])  # shorter recordings: silence at the end
    audio = tf.ensure_shape(audio, (SAMPLE_RATE,))
    return log_mel_features(audio, normalize=normalize), label


def speech_commands_dataset(
    root: str | os.PathLike,
    split: str = "train",
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    words: list[str] | None = None,
    drop_remainder: bool = False,
    normalize: bool = True,
) -> tf.data.Dataset:
    """Batches of Speech Commands features: 1 s clips as (101, 120) log-Mel + deltas frames.

    Each file is decoded, cut or zero-padded at the end to 1 s (16000
    samples) and turned into [`log_mel_features`][keras_spiking_rnn.data.speech_commands.log_mel_features] in parallel
    (``num_parallel_calls=tf.data.AUTOTUNE``, order kept). A file that is
    not mono 16 kHz stops the iteration with ``tf.errors.InvalidArgumentError``
    naming it (use [`read_wav`][keras_spiking_rnn.data.speech_commands.read_wav] to check files eagerly).

    Args:
        root: the unpacked dataset directory.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        batch_size: clips per batch (> 0).
        shuffle: reshuffle the files on every pass.
        seed: the shuffling seed.
        words: the classes in label order (see
            [`load_speech_commands_split`][keras_spiking_rnn.data.speech_commands.load_speech_commands_split]).
        drop_remainder: drop the last, smaller batch.
        normalize: standardize each Mel band of each clip over time, as Yin et al. (2021) do
            (see [`log_mel_features`][keras_spiking_rnn.data.speech_commands.log_mel_features]).

    Returns:
        A prefetched ``tf.data.Dataset`` of ``(x, y)``: ``x`` float32 of shape
            (batch, 101, 120), ``y`` int64 of shape (batch,); sorted by relative
            path unless ``shuffle``.

    Raises:
        FileNotFoundError: as in
            [`load_speech_commands_split`][keras_spiking_rnn.data.speech_commands.load_speech_commands_split].
        ValueError: as in ``load_speech_commands_split``, or a non-positive ``batch_size``.

    Examples:
        >>> train = speech_commands_dataset("speech_commands", "train", shuffle=True, seed=0)  # doctest: +SKIP
        >>> x, y = next(iter(train))  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        TensorShape([32, 101, 120])
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"speech_commands_dataset: `batch_size` must be a positive integer, got {batch_size!r}.")
    paths, labels = _split("speech_commands_dataset", root, split, words)
    dataset = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, "int64")))
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda path, label: _features(path, label, bool(normalize)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
