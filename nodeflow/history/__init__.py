"""Run history: the SQLite store of runs and node attempts, and the recorder that fills it.

``HistoryStore`` (``store.py``) owns the file; ``HistoryRecorder``
(``recorder.py``) is the run observer that writes to it. The ETA estimator
(``eta.py``) reads durations from the store.
"""
from __future__ import annotations

from .recorder import HistoryRecorder
from .store import SCHEMA_VERSION, HistoryError, HistoryStore, default_history_path

__all__ = ["HistoryError", "HistoryRecorder", "HistoryStore", "SCHEMA_VERSION", "default_history_path"]
