"""Real-data readers: SHD / SSC spike files, Speech Commands log-Mel features, sequential 8x8 digits.

Small files in the published formats are written into ``tmp_path``; nothing is downloaded.
"""

import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_spiking_rnn.data import (
    bin_spikes,
    delta_features,
    load_digits_sequences,
    load_speech_commands_split,
    load_spiking_audio,
    log_mel_features,
    permute_steps,
    read_wav,
    speech_commands_dataset,
    spiking_audio_dataset,
)

# ----------------------------------------------------------------------------------------------------------------------
# SHD / SSC


def _counts(bins, units, steps, channels):
    """An independent histogram: np.add.at over hand-given bins (entries outside [0, steps) are ignored)."""
    out = np.zeros((steps, channels), "float32")
    bins, units = np.asarray(bins), np.asarray(units)
    kept = (bins >= 0) & (bins < steps)
    np.add.at(out, (bins[kept], units[kept]), 1.0)
    return out


def test_bin_spikes_edge_cases_match_hand_binned_counts():
    # 4 bins of 0.25 s: a spike on a boundary starts the later bin, spikes at or after `duration` are dropped.
    times = np.array([0.0, 0.2499, 0.25, 0.5, 0.6, 0.6, 0.6, 0.75, 0.999, 1.0, 1.3])
    units = np.array([0, 1, 1, 2, 2, 2, 2, 0, 3, 1, 2])
    bins = [0, 0, 1, 2, 2, 2, 2, 3, 3, -1, -1]
    expected = _counts(bins, units, 4, 5)
    result = bin_spikes(times, units, steps=4, channels=5)
    assert result.dtype == np.float32 and result.shape == (4, 5)
    np.testing.assert_array_equal(result, expected)
    assert result[2, 2] == 4  # repeated spikes add up
    np.testing.assert_array_equal(bin_spikes(times, units, 4, 5, binary=True), np.minimum(expected, 1))
    assert bin_spikes(times, units, 4, 5, duration=2.0).sum() == len(times)  # nothing at or after 2 s
    assert bin_spikes(times, units, 4, 5, dtype="int32").dtype == np.int32
    empty = bin_spikes(np.zeros(0, "float32"), np.zeros(0, "uint16"), 3, 2)
    np.testing.assert_array_equal(empty, np.zeros((3, 2)))


def test_bin_spikes_uses_the_boundaries_at_the_times_precision():
    # 250 bins of 4 ms (Yin et al.'s SHD input): float32 times written as k * 4 ms start bin k, even where
    # float32(t) * 250 falls just below k (0.7 s: 174.99999...).
    k = np.array([0, 3, 175, 17, 249, 100])
    times = (k * 0.004).astype("float32")
    assert np.float32(0.7) * np.float64(250) < 175
    units = np.arange(len(k))
    np.testing.assert_array_equal(bin_spikes(times, units, 250, 6), _counts(k, units, 250, 6))
    # random times in float64, away from boundaries: bins by floor(t / width); the last 0.2 s are dropped
    rng = np.random.default_rng(0)
    times = rng.uniform(0, 1.2, 3000)
    units = rng.integers(0, 700, 3000)
    np.testing.assert_array_equal(
        bin_spikes(times, units, 250), _counts(np.floor(times / 0.004).astype(int), units, 250, 700)
    )


@pytest.mark.parametrize(
    "times, units, kwargs, match",
    [
        ([0.1], [700], {}, r"bin_spikes: `units` must be channel indices in \[0, 700\), got 700"),
        ([-0.1], [0], {}, r"bin_spikes: spike `times` must be finite and >= 0 seconds, got -0.1"),
        ([np.nan], [0], {}, r"finite"),
        ([0.1, 0.2], [0], {}, r"same length.*\(2,\) and \(1,\)"),
        ([0.1], [0.5], {}, r"integer channel indices"),
        ([0.1], [0], {"steps": 0}, r"bin_spikes: `steps` must be a positive integer, got 0"),
        ([0.1], [0], {"duration": -1.0}, r"`duration` must be a positive number of seconds, got -1.0"),
    ],
)
def test_bin_spikes_errors(times, units, kwargs, match):
    kwargs = {"steps": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        bin_spikes(np.array(times), np.array(units), **kwargs)


def _samples():
    """Five samples of (times, units, label); sample 2 is empty, sample 3 runs past 1 s."""
    rng = np.random.default_rng(3)
    samples = []
    for i, n in enumerate([40, 7, 0, 60, 25]):
        times = np.sort(rng.uniform(0, 1.3 if i == 3 else 0.95, n)).astype("float32")
        samples.append((times, rng.integers(0, 700, n).astype("uint16"), (7 * i + 2) % 20))
    return samples


def _write_shd(path, samples, times_dtype=np.float32, skip=()):
    """An HDF5 file laid out as shd_*.h5 / ssc_*.h5: vlen spikes/times (s), vlen spikes/units, labels, extra/."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        if "spikes/times" not in skip:
            times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(times_dtype))
            for i, (t, _, _) in enumerate(samples):
                times[i] = t.astype(times_dtype)
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (_, u, _) in enumerate(samples):
            units[i] = u
        f.create_dataset("labels", data=np.array([s[2] for s in samples], "uint8"))
        f.create_dataset("extra/speaker", data=np.arange(len(samples), dtype="uint8"))
    return path


def _expected(samples, steps, duration=1.0):
    width = duration / steps
    return np.stack([_counts(np.floor(t.astype("float64") / width).astype(int), u, steps, 700) for t, u, _ in samples])


def test_load_spiking_audio_reads_the_published_layout(tmp_path):
    samples = _samples()
    path = _write_shd(tmp_path / "shd_train.h5", samples)
    x, y = load_spiking_audio(path, steps=10)
    assert x.shape == (5, 10, 700) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, [s[2] for s in samples])
    np.testing.assert_array_equal(x, _expected(samples, 10))
    assert x[2].sum() == 0 and x[3].sum() < len(samples[3][0])  # empty sample; spikes after 1 s dropped
    x3, y3 = load_spiking_audio(str(path), steps=10, limit=3, binary=True, duration=1.4)
    np.testing.assert_array_equal(x3, np.minimum(_expected(samples[:3], 10, 1.4), 1))
    np.testing.assert_array_equal(y3, y[:3])


def test_load_spiking_audio_reads_float16_times(tmp_path):
    samples = _samples()
    x, _ = load_spiking_audio(_write_shd(tmp_path / "half.h5", samples, np.float16), steps=8)
    half = [(t.astype(np.float16), u, label) for t, u, label in samples]
    np.testing.assert_array_equal(x, _expected(half, 8))


def test_spiking_audio_dataset_streams_batches_in_order_and_shuffled(tmp_path):
    samples = _samples()
    path = _write_shd(tmp_path / "ssc_valid.h5", samples)
    expected = _expected(samples, 10)
    labels = np.array([s[2] for s in samples])
    dataset = spiking_audio_dataset(path, steps=10, batch_size=2)
    assert int(dataset.cardinality()) == 3
    batches = list(dataset)
    assert [tuple(x.shape) for x, _ in batches] == [(2, 10, 700), (2, 10, 700), (1, 10, 700)]
    assert all(x.dtype == tf.float32 and y.dtype == tf.int64 for x, y in batches)
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), expected)

    by_label = dict(zip(labels, expected))
    shuffled = spiking_audio_dataset(path, steps=10, batch_size=2, shuffle=True, seed=5, drop_remainder=True)
    assert int(shuffled.cardinality()) == 2 and shuffled.element_spec[0].shape == (2, 10, 700)
    orders = []
    for _ in range(3):
        seen = []
        for x, y in shuffled:
            for row, label in zip(x.numpy(), y.numpy()):
                np.testing.assert_array_equal(row, by_label[label])  # each sample stays with its label
            seen += list(y.numpy())
        assert len(set(seen)) == 4
        orders.append(seen)
    again = spiking_audio_dataset(path, steps=10, batch_size=2, shuffle=True, seed=5, drop_remainder=True)
    assert [int(v) for _, y in again for v in y] == orders[0]  # the seed fixes the order of each pass
    assert len({tuple(o) for o in orders}) > 1  # reshuffled between passes


def test_spiking_audio_file_errors(tmp_path):
    samples = _samples()
    with pytest.raises(FileNotFoundError, match="spiking_audio_dataset: no file at `path` .*nowhere.h5"):
        spiking_audio_dataset(tmp_path / "nowhere.h5")
    path = _write_shd(tmp_path / "shd_test.h5", samples)
    with open(path, "rb") as raw, gzip.open(tmp_path / "shd_test2.h5.gz", "wb") as packed:
        packed.write(raw.read())
    with pytest.raises(FileNotFoundError, match=r"shd_test2.h5.gz exists: unpack it with `gunzip"):
        load_spiking_audio(tmp_path / "shd_test2.h5")
    with pytest.raises(ValueError, match="load_spiking_audio: .*gzip-compressed"):
        load_spiking_audio(tmp_path / "shd_test2.h5.gz")
    (tmp_path / "notes.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="is not an HDF5 file"):
        load_spiking_audio(tmp_path / "notes.h5")
    with pytest.raises(ValueError, match=r"lacks the dataset\(s\) \['spikes/times'\]; SHD / SSC files have"):
        load_spiking_audio(_write_shd(tmp_path / "partial.h5", samples, skip=("spikes/times",)))
    with pytest.raises(ValueError, match="load_spiking_audio: `limit` must be a positive integer, got 0"):
        load_spiking_audio(path, limit=0)
    with pytest.raises(ValueError, match=r"load_spiking_audio: sample 0 of .*\[0, 500\), got \d+"):
        load_spiking_audio(path, channels=500)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 500\)"):
        list(spiking_audio_dataset(path, channels=500))


# ----------------------------------------------------------------------------------------------------------------------
# Speech Commands

RATE = 16000


def _sine(frequency, seconds=1.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype("float32")


def _write_wav(path, audio, rate=RATE):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    audio = np.asarray(audio, "float32")
    tf.io.write_file(str(path), tf.audio.encode_wav(audio if audio.ndim == 2 else audio[:, None], rate))


def _hertz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f) / 700.0)


# relative path -> frequency (Hz) and length (s); short.wav is 0.55 s
FILES = {
    "down/a_nohash_0.wav": (700.0, 1.0),
    "down/b_nohash_0.wav": (1500.0, 1.0),
    "up/a_nohash_0.wav": (1000.0, 1.0),
    "up/c_nohash_1.wav": (2500.0, 1.0),
    "yes/a_nohash_0.wav": (3000.0, 1.0),
    "yes/short.wav": (1200.0, 0.55),
}


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech_commands")
    for relative, (frequency, seconds) in FILES.items():
        _write_wav(root / relative, _sine(frequency, seconds))
    _write_wav(root / "_background_noise_" / "white_noise.wav", np.random.default_rng(0).uniform(-0.1, 0.1, RATE))
    (root / "validation_list.txt").write_text("up/c_nohash_1.wav\n")
    (root / "testing_list.txt").write_text("yes/short.wav\ndown/b_nohash_0.wav\n")
    return root


def test_splits_follow_the_published_lists(commands):
    paths, labels = load_speech_commands_split(commands, "train")
    relative = [os.path.relpath(p, commands).replace(os.sep, "/") for p in paths]
    assert relative == ["down/a_nohash_0.wav", "up/a_nohash_0.wav", "yes/a_nohash_0.wav"]
    assert labels == [0, 1, 2]  # index in the sorted word list; _background_noise_ is no word
    paths, labels = load_speech_commands_split(commands, "test")
    assert [os.path.relpath(p, commands).replace(os.sep, "/") for p in paths] == [
        "down/b_nohash_0.wav",
        "yes/short.wav",
    ]
    assert labels == [0, 2]
    assert load_speech_commands_split(commands, "validation")[1] == [1]
    paths, labels = load_speech_commands_split(commands, "test", words=["yes", "up"])
    assert [os.path.basename(p) for p in paths] == ["short.wav"] and labels == [0]
    assert load_speech_commands_split(commands, "train", words=["yes", "up"])[1] == [1, 0]


def test_split_errors(commands, tmp_path):
    with pytest.raises(ValueError, match=r"`split` must be one of \('train', 'validation', 'test'\), got 'testing'"):
        load_speech_commands_split(commands, "testing")
    with pytest.raises(FileNotFoundError, match="speech_commands_dataset: `root` .*missing.* is not a directory"):
        speech_commands_dataset(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"\['no'\] are not among \['down', 'up', 'yes'\]"):
        load_speech_commands_split(commands, words=["yes", "no"])
    with pytest.raises(ValueError, match=r"`words` must be distinct"):
        load_speech_commands_split(commands, words=["yes", "yes"])
    _write_wav(tmp_path / "tree" / "go" / "x.wav", _sine(440.0))
    with pytest.raises(FileNotFoundError, match="validation_list.txt. is missing"):
        load_speech_commands_split(tmp_path / "tree", "train")
    (tmp_path / "tree" / "validation_list.txt").write_text("go/gone.wav\n")
    with pytest.raises(FileNotFoundError, match=r"1 file\(s\) of validation_list.txt are missing .*go/gone.wav"):
        load_speech_commands_split(tmp_path / "tree", "validation")


def test_dataset_batches_are_padded_one_second_features_in_order(commands):
    dataset = speech_commands_dataset(commands, "test", batch_size=4)
    (x, y), *rest = list(dataset)
    assert not rest and x.shape == (2, 101, 120) and x.dtype == tf.float32 and y.dtype == tf.int64
    np.testing.assert_array_equal(y.numpy(), [0, 2])
    short = _sine(1200.0, 0.55)
    short = np.round(short * 32767) / 32767  # the 16-bit wav's values
    padded = np.concatenate([short, np.zeros(RATE - len(short), "float32")])
    np.testing.assert_allclose(x[1].numpy(), log_mel_features(padded, normalize=True).numpy(), atol=1e-3)
    train = list(speech_commands_dataset(commands, "train", batch_size=2, shuffle=True, seed=0))
    assert sorted(np.concatenate([y for _, y in train]).tolist()) == [0, 1, 2]
    assert [tuple(x.shape) for x, _ in train] == [(2, 101, 120), (1, 101, 120)]


@pytest.mark.parametrize("frequency", [440.0, 1000.0, 2000.0, 3400.0])
def test_log_mel_of_a_sine_peaks_in_the_band_of_its_frequency(frequency):
    # HTK Mel bands (TensorFlow's): 42 equally spaced Mel points from 20 to 4000 Hz; band k peaks at point k + 1.
    centres = np.linspace(_hertz_to_mel(20.0), _hertz_to_mel(4000.0), 42)[1:-1]
    distance = np.abs(centres - _hertz_to_mel(frequency))
    band = int(np.argmin(distance))
    assert distance[band] < 0.3 * (centres[1] - centres[0])  # the frequency is clearly inside one band
    features = log_mel_features(_sine(frequency)).numpy()
    assert features.shape == (101, 120)
    assert (features[5:96, :40].argmax(axis=1) == band).all()


def test_frame_count_and_batching():
    assert log_mel_features(np.zeros(RATE, "float32")).shape == (101, 120)
    assert log_mel_features(np.zeros(8000, "float32")).shape == (51, 120)  # 1 + samples // 160
    waves = np.stack([_sine(500.0), _sine(2000.0)])
    batched = log_mel_features(waves).numpy()
    np.testing.assert_allclose(batched[1], log_mel_features(waves[1]).numpy(), atol=1e-4)
    silent = log_mel_features(np.zeros(RATE, "float32")).numpy()
    np.testing.assert_allclose(silent[:, :40], np.log(1e-6), rtol=1e-6)
    with pytest.raises(ValueError, match="log_mel_features: the band edges must satisfy .* got 20.0 and 9000.0"):
        log_mel_features(np.zeros(RATE, "float32"), upper_edge_hertz=9000.0)


def test_deltas_follow_the_regression_formula():
    frames = 20
    slopes = np.array([0.5, -2.0, 3.0], "float32")
    linear = np.arange(frames, dtype="float32")[:, None] * slopes + 7.0
    first = delta_features(linear).numpy()
    np.testing.assert_allclose(first[2:-2], np.broadcast_to(slopes, (frames - 4, 3)), rtol=1e-6)
    # edges repeat the first / last frame: d[0] = (1 * a + 2 * 2a) / 10 = a / 2, d[1] = (2a + 2 * 3a) / 10 = 0.8 a
    np.testing.assert_allclose(first[[0, 1, -2, -1]], [slopes / 2, 0.8 * slopes, 0.8 * slopes, slopes / 2], rtol=1e-6)
    second = delta_features(first).numpy()
    np.testing.assert_allclose(second[4:-4], 0.0, atol=1e-5)
    features = log_mel_features(_sine(900.0)).numpy()  # the stacked blocks are [log-Mel, delta, delta-delta]
    np.testing.assert_allclose(features[:, 40:80], delta_features(features[:, :40]).numpy(), atol=1e-5)
    np.testing.assert_allclose(features[:, 80:], delta_features(features[:, 40:80]).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="delta_features: `window` must be an integer >= 1, got 0"):
        delta_features(linear, window=0)


def test_wrong_wav_format_is_reported_with_the_file(tmp_path):
    _write_wav(tmp_path / "stereo.wav", np.stack([_sine(300.0), _sine(600.0)], axis=1))
    with pytest.raises(ValueError, match=r"read_wav: .*stereo.wav' has 2 channel\(s\) at 16000 Hz; expected mono"):
        read_wav(tmp_path / "stereo.wav")
    root = tmp_path / "root"
    _write_wav(root / "go" / "slow.wav", _sine(300.0, 0.5), rate=8000)
    (root / "validation_list.txt").write_text("")
    (root / "testing_list.txt").write_text("")
    with pytest.raises(ValueError, match="read_wav: .*slow.wav' has 1 channel\\(s\\) at 8000 Hz"):
        read_wav(root / "go" / "slow.wav")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected mono 16000 Hz wav.*slow.wav"):
        list(speech_commands_dataset(root, "train"))


# ----------------------------------------------------------------------------------------------------------------------
# sequential digits


def _sklearn_sequences():
    from sklearn.datasets import load_digits

    digits = load_digits()
    sequences = np.array([[image[t // 8, t % 8] / 16.0 for t in range(64)] for image in digits.images], "float32")
    return sequences, digits.target


def _is_subsequence(rows, of):
    j = 0
    for row in of:
        if j < len(rows) and np.array_equal(rows[j], row):
            j += 1
    return j == len(rows)


def test_digit_sequences_are_the_images_read_pixel_by_pixel():
    pytest.importorskip("sklearn")
    (x, y), (x_test, y_test) = load_digits_sequences()
    assert x.shape == (1347, 64, 1) and x_test.shape == (450, 64, 1)
    assert x.dtype == np.float32 and y.dtype == np.int64 and y_test.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    sequences, target = _sklearn_sequences()
    assert _is_subsequence(x[..., 0], sequences) and _is_subsequence(x_test[..., 0], sequences)
    assert sorted(map(bytes, np.concatenate([x, x_test])[..., 0])) == sorted(map(bytes, sequences))
    np.testing.assert_array_equal(np.bincount(y_test), np.round(0.25 * np.bincount(target)))  # stratified
    (x_again, _), _ = load_digits_sequences()
    np.testing.assert_array_equal(x, x_again)
    (x_other, _), _ = load_digits_sequences(seed=1, test_fraction=0.5)
    assert len(x_other) == 1797 - int(np.round(0.5 * np.bincount(target)).sum())


def test_permuted_digits_use_one_permutation_for_train_and_test():
    pytest.importorskip("sklearn")
    (x, y), (x_test, y_test) = load_digits_sequences(seed=3)
    (xp, yp), (xp_test, yp_test) = load_digits_sequences(permute=True, seed=3)
    permutation = permute_steps(np.arange(64)[None, :, None], seed=3)[0, :, 0]
    assert sorted(permutation) == list(range(64)) and (permutation != np.arange(64)).any()
    np.testing.assert_array_equal(xp, x[:, permutation])
    np.testing.assert_array_equal(xp_test, x_test[:, permutation])
    np.testing.assert_array_equal(yp, y)
    np.testing.assert_array_equal(yp_test, y_test)
    np.testing.assert_array_equal(np.sort(xp, axis=1), np.sort(x, axis=1))  # each row: the same multiset of pixels
    other = permute_steps(np.arange(64)[None, :, None], seed=4)[0, :, 0]
    assert (other != permutation).any()
    mnist_like = np.random.default_rng(0).random((3, 40, 1)).astype("float32")
    shuffled = permute_steps(mnist_like, seed=3)
    assert shuffled.dtype == np.float32 and shuffled.shape == (3, 40, 1)
    np.testing.assert_array_equal(np.sort(shuffled, axis=1), np.sort(mnist_like, axis=1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"test_fraction": 0.0}, r"load_digits_sequences: `test_fraction` must be a number in \(0, 1\), got 0.0"),
        ({"test_fraction": 1.5}, r"got 1.5"),
        ({"seed": -1}, r"load_digits_sequences: `seed` must be a non-negative integer, got -1"),
        ({"seed": 0.5}, r"got 0.5"),
    ],
)
def test_digit_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_digits_sequences(**kwargs)


def test_permute_steps_errors():
    with pytest.raises(ValueError, match=r"permute_steps: `x` must have shape \(batch, timesteps, features\), got"):
        permute_steps(np.zeros((4, 64)))


def test_normalized_bands_have_zero_mean_and_unit_variance_over_time():
    rng = np.random.default_rng(5)
    noise = (rng.normal(size=RATE) * np.linspace(0.01, 1.0, RATE)).astype("float32")  # loudness grows
    log_mel = log_mel_features(noise, normalize=True).numpy()[:, :40]
    np.testing.assert_allclose(log_mel.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(log_mel.var(axis=0), 1.0, rtol=1e-3)
    raw = log_mel_features(noise).numpy()[:, :40]
    np.testing.assert_allclose(log_mel, (raw - raw.mean(0)) / raw.std(0), atol=1e-3)
