"""Sub-commands of the ``nodeflow`` CLI, one module each (``add_parser`` + handler)."""
