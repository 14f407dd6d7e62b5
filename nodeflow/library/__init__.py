"""The node library: node types, the registry keyed by path, built-ins and plug-ins."""
from .plugins import ENTRY_POINT_GROUP, load_plugins
from .registry import NodeRegistry, builtin_registry, default_registry
from .types import (ANY, ARRAY, BOOL, DICT, FLOAT, INT, LIST, STR, CommandLine, CommandResult, NodeContext,
                    NodeError, NodeType, TerminalSpec, default_collect, dtype_text, inp, out)

__all__ = ["ANY", "ARRAY", "BOOL", "CommandLine", "CommandResult", "DICT", "ENTRY_POINT_GROUP", "FLOAT", "INT",
           "LIST", "NodeContext", "NodeError", "NodeRegistry", "NodeType", "STR", "TerminalSpec",
           "builtin_registry", "default_collect", "default_registry", "dtype_text", "inp", "load_plugins", "out"]
