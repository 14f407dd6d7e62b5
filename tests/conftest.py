"""Test-wide set-up: offscreen Qt, and nodeflow's user folders in a temporary place."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")
# keep history, runs, config and plug-ins of test runs away from the real user folders
os.environ.setdefault("NODEFLOW_HOME", tempfile.mkdtemp(prefix="nodeflow-test-home-"))
