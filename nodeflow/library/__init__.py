"""The node library: node types, the registry keyed by path, built-ins and plug-ins."""
from .registry import NodeRegistry, builtin_registry, default_registry
from .types import (ANY, ARRAY, BOOL, FLOAT, INT, STR, CommandLine, CommandResult, NodeContext, NodeError,
                    NodeType, TerminalSpec, dtype_text, inp, out)

__all__ = ["ANY", "ARRAY", "BOOL", "CommandLine", "CommandResult", "FLOAT", "INT", "NodeContext", "NodeError",
           "NodeRegistry", "NodeType", "STR", "TerminalSpec", "builtin_registry", "default_registry",
           "dtype_text", "inp", "out"]
