"""Working with a shared nodeflow server.

* ``protocol`` — the pydantic wire models the server, the runner agent and the
  desktop's runner executor share (the one place the HTTP API's shapes live).
* ``client`` — a small synchronous HTTP client (httpx) for that API.
* ``credentials`` — server tokens kept in the OS keyring or a 0600 file.
* ``server/`` — the FastAPI application (users, tokens, workflows with git
  history, the runner queue, server-side runs and timers).
* ``agent/`` — ``nodeflow runner``: takes tasks from the queue and runs them
  with the local executor.

Nothing here imports Qt.
"""
