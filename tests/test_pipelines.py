"""tf.data pipelines for sequences of different lengths (keras_spiking_rnn.data.sequence_dataset)."""

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.data import sequence_dataset


def _sequences(lengths, features=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((n, features)) < 0.3).astype("float32") for n in lengths]


def test_batches_are_padded_to_their_longest_sequence_in_order():
    sequences = _sequences([5, 9, 2, 7, 4])
    labels = np.arange(5)
    batches = list(sequence_dataset(sequences, labels, batch_size=2))
    assert [tuple(x.shape) for x, _ in batches] == [(2, 9, 3), (2, 7, 3), (1, 4, 3)]
    x, y = batches[0]
    np.testing.assert_array_equal(y.numpy(), [0, 1])
    np.testing.assert_array_equal(x[0, :5].numpy(), sequences[0])
    assert (x[0, 5:].numpy() == -1.0).all() and (x[1].numpy() == sequences[1]).all()


def test_shuffling_and_buckets_keep_each_sequence_with_its_label():
    lengths = [3, 30, 4, 28, 5, 31, 2, 29]
    sequences = [np.full((n, 2), float(i), "float32") for i, n in enumerate(lengths)]
    dataset = sequence_dataset(sequences, np.arange(8), batch_size=2, shuffle=True, seed=1, bucket_boundaries=[10])
    seen = []
    for x, y in dataset:
        batch_lengths = [lengths[i] for i in y.numpy()]
        assert x.shape[1] == max(batch_lengths)
        assert max(batch_lengths) < 10 or min(batch_lengths) >= 10  # one bucket per batch
        for row, label in zip(x.numpy(), y.numpy()):
            assert (row[: lengths[label]] == label).all()
        seen += list(y.numpy())
    assert sorted(seen) == list(range(8))


def test_masked_model_on_padded_batches_equals_each_sequence_alone():
    sequences = _sequences([6, 11, 3, 8], seed=1)
    model = keras.Sequential(
        [
            keras.Input((None, 3)),
            keras.layers.Masking(-1.0),
            SpikingRNN(12, neuron="alif", return_sequences=True, threshold=0.05),
            LeakyReadout(4, output_mode="mean"),
        ]
    )
    padded = np.concatenate([model.predict_on_batch(x) for x in sequence_dataset(sequences, batch_size=4)])
    alone = np.concatenate([model.predict_on_batch(s[None]) for s in sequences])
    np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-6)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(sequence_dataset(sequences, np.array([0, 1, 2, 3]), batch_size=2), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sequences": []}, "`sequences` is empty"),
        ({"sequences": [np.ones((3, 2)), np.ones((3, 4))]}, "same number of features"),
        ({"sequences": [np.ones(3)]}, r"shape \(timesteps, features\)"),
        ({"sequences": [np.ones((3, 2))], "labels": [0, 1]}, "one entry per sequence"),
        ({"sequences": [np.ones((3, 2))], "batch_size": 0}, "`batch_size` must be a positive integer"),
        ({"sequences": [np.ones((3, 2))], "bucket_boundaries": [5, 5]}, "increasing positive lengths"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sequence_dataset(**kwargs)
