"""The errors of talking to a cluster; ``retryable`` says whether trying again later may help."""
from __future__ import annotations


class TransportError(Exception):
    """The cluster cannot be used; ``retryable`` says whether trying again later may help."""

    retryable = False


class ConnectionLost(TransportError):
    retryable = True


class CommandTimeout(TransportError):
    retryable = True


class HostKeyError(TransportError):
    pass


class AuthError(TransportError):
    pass
