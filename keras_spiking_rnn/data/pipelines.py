"""``tf.data`` input pipelines for sequences of different lengths: padding, masking, bucketing, prefetching."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

PAD_VALUE = -1.0
"""The default padding value of ``sequence_dataset``.

-1 never occurs in spike trains or rates, so ``keras.layers.Masking(-1.0)`` masks exactly the padded
steps (0 would also mask real silent steps of a spike train).
"""


def _as_sequences(sequences) -> list[np.ndarray]:
    arrays = [np.asarray(s, dtype="float32") for s in sequences]
    if not arrays:
        raise ValueError("sequence_dataset: `sequences` is empty; give a list of arrays (timesteps, features).")
    features = {a.shape[1:] for a in arrays}
    if any(a.ndim != 2 for a in arrays) or len(features) != 1:
        shapes = sorted({a.shape for a in arrays}, key=str)[:4]
        raise ValueError(
            "sequence_dataset: `sequences` must be arrays of shape (timesteps, features) with the same number "
            f"of features; got shapes such as {shapes}."
        )
    if any(len(a) == 0 for a in arrays):
        raise ValueError("sequence_dataset: every sequence needs at least one timestep.")
    return arrays


def sequence_dataset(
    sequences: Sequence[np.ndarray],
    labels: np.ndarray | None = None,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    pad_value: float = PAD_VALUE,
    bucket_boundaries: Sequence[int] | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches sequences of different lengths for ``model.fit``: padded at the end, shuffled, prefetched.

    Each batch is padded to its own longest sequence with ``pad_value``. Two
    ways to train on it:

    * exact: start the model with ``keras.layers.Masking(pad_value)``; the
      spiking layers then keep their state over padded steps and
      ``LeakyReadout(output_mode="mean")`` averages over real steps only
      (masked layers run Keras's own time loop, ``bptt="autodiff"``);
    * fast: ``bucket_boundaries`` groups sequences of similar length, so
      that little padding is left, and no mask is needed if the model
      tolerates a few trailing steps of ``pad_value`` (use ``pad_value=0``
      for spike input, i.e. silence).

    Args:
        sequences: arrays of shape (timesteps_i, features), float.
        labels: one label per sequence (any shape per sequence), or None.
        batch_size: sequences per batch (> 0).
        shuffle: reshuffle the sequences every epoch.
        seed: the shuffling seed.
        pad_value: the value of padded steps.
        bucket_boundaries: sequence-length boundaries of buckets (increasing);
            each batch then holds sequences from one bucket only.
        drop_remainder: drop the last, smaller batch (of each bucket).

    Returns:
        A ``tf.data.Dataset`` of ``x`` (batch, longest, features) float32,
            or ``(x, y)`` when ``labels`` is given; prefetched with AUTOTUNE.

    Raises:
        ValueError: empty or ragged-feature ``sequences``, labels of another
            length, a non-positive ``batch_size``, unsorted boundaries.

    Examples:
        >>> x = [np.ones((5, 3)), np.ones((8, 3))]
        >>> batch, y = next(iter(sequence_dataset(x, np.array([0, 1]), batch_size=2)))
        >>> batch.shape, float(batch[0, -1, 0])  # the shorter sequence is padded with PAD_VALUE
        (TensorShape([2, 8, 3]), -1.0)
    """
    arrays = _as_sequences(sequences)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"sequence_dataset: `batch_size` must be a positive integer, got {batch_size!r}.")
    features = arrays[0].shape[1]
    lengths = np.array([len(a) for a in arrays])
    values = tf.RaggedTensor.from_row_lengths(np.concatenate(arrays), lengths)
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(arrays):
            raise ValueError(
                f"sequence_dataset: `labels` must have one entry per sequence ({len(arrays)}), got {len(labels)}."
            )
        label_values = tf.constant(labels)
    dataset = tf.data.Dataset.range(len(arrays))
    if shuffle:
        dataset = dataset.shuffle(len(arrays), seed=seed, reshuffle_each_iteration=True)
    if labels is not None:
        dataset = dataset.map(lambda i: (values[i], label_values[i]))  # a row of the ragged tensor is dense
    else:
        dataset = dataset.map(lambda i: values[i])
    padding = tf.constant(pad_value, tf.float32)
    padded_shapes = ([None, features], labels.shape[1:]) if labels is not None else [None, features]
    padding_values = (padding, tf.zeros((), labels.dtype)) if labels is not None else padding
    if bucket_boundaries is None:
        dataset = dataset.padded_batch(
            batch_size, padded_shapes, padding_values=padding_values, drop_remainder=drop_remainder
        )
    else:
        boundaries = [int(b) for b in bucket_boundaries]
        if not boundaries or any(b <= a for a, b in zip(boundaries, boundaries[1:])) or boundaries[0] <= 0:
            raise ValueError(
                f"sequence_dataset: `bucket_boundaries` must be increasing positive lengths, got {bucket_boundaries!r}."
            )
        dataset = dataset.bucket_by_sequence_length(
            lambda x, *y: tf.shape(x)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
