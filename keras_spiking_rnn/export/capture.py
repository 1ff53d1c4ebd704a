"""Capturing what C++ code (the TFLite converter, the TFLM interpreter) prints on file descriptors 1 and 2."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


class _Capture:
    def __init__(self, file):
        self.file = file
        self.final: str | None = None

    def text(self) -> str:
        if self.final is not None:
            return self.final
        self.file.flush()
        self.file.seek(0)
        return self.file.read().decode(errors="replace")


@contextlib.contextmanager
def captured_output() -> Iterator[_Capture]:
    """Captures what C++ code writes to file descriptors 1 and 2 (the converter's and TFLM's logs)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as file:
        capture = _Capture(file)
        try:
            os.dup2(file.fileno(), 1)
            os.dup2(file.fileno(), 2)
            yield capture
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            capture.final = capture.text()
