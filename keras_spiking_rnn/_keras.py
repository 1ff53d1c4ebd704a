"""The Keras the package builds on: Keras 3, or tf-keras (Keras 2) under ``TF_USE_LEGACY_KERAS=1``.

TensorFlow reads ``TF_USE_LEGACY_KERAS`` to decide what ``tf.keras`` is. The
package follows the same switch, so that its layers subclass the Keras the
user's model is built with: Keras 3 by default, and tf-keras for codebases
that quantize with tensorflow-model-optimization (which handles tf-keras
models only). Set the variable before importing TensorFlow or this package.
"""

from __future__ import annotations

import os

LEGACY: bool = os.environ.get("TF_USE_LEGACY_KERAS", "0").strip().lower() in ("1", "true", "yes")

if LEGACY:
    try:
        import tf_keras as keras
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "TF_USE_LEGACY_KERAS=1 asks for tf-keras, which is not installed: `pip install tf-keras` "
            "(the version matching TensorFlow's), or unset TF_USE_LEGACY_KERAS to use Keras 3."
        ) from error
else:
    import keras

__all__ = ["LEGACY", "keras"]
