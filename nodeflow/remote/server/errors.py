"""The server's own exceptions, mapped to HTTP answers in ``app.py``.

Modules raise these (never bare ``LookupError``/``ValueError``, so a bug
surfacing as ``KeyError`` stays a 500 and gets noticed).
"""
from __future__ import annotations


class ApiError(Exception):
    status = 400


class NotFound(ApiError):
    """404: missing, or not yours (the two are not told apart)."""
    status = 404


class BadRequest(ApiError):
    status = 400


class Conflict(ApiError):
    status = 409


class Unprocessable(ApiError):
    status = 422
