"""The nodeflow server (FastAPI; ``pip install nodeflow[server]``).

``create_app(data_dir, db_url=None, **options)`` builds the application;
``nodeflow server`` runs it under uvicorn. Modules: ``app`` (wiring,
lifespan, upload limit), ``db`` (tables), ``auth`` (users, tokens, who may
do what), ``workflows`` (git-backed versions), ``runners`` (registry),
``queue`` (tasks and leases), ``runs`` (server-side runs), ``timers``
(cron), ``notify`` (long-poll wake-ups), ``routes_*`` (HTTP).
"""
from .app import ServerOptions, ServerState, create_app

__all__ = ["ServerOptions", "ServerState", "create_app"]
