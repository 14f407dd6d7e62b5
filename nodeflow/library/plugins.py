"""Plug-in discovery (placeholder until the library helper fills it)."""
from __future__ import annotations


def load_plugins(registry, plugin_dirs=None, entry_points=True):
    return registry
