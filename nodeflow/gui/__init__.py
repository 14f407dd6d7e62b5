"""nodeflow's editor: PySide6 + NodeGraphQt. Nothing outside this package imports it (DESIGN rule 1).

Who owns what:

* ``document`` — ``WorkflowDocument``: the Workflow (the truth), its file, the
  modified state and the undo stack; every edit; connection checks.
* ``commands`` — undo commands; they change the model only, via the document.
* ``canvas`` — ``Canvas``: NodeGraphQt showing the document, mapped by
  uniquename; run states and problem highlights on the nodes.
* ``gestures`` — what the user does in the viewer, turned into document edits.
* ``ngview`` — the NodeGraphQt subclasses that make it a pure view.
* ``items``, ``pipes``, ``overview``, ``style`` — the fast node, port and pipe
  items, the far-zoom overview, colours and shared paint objects.
* ``palette`` — the node tree with search, drag and Tab search.
* ``properties`` — editors following terminal opts, plus per-node run settings.
* ``run_controller`` — the engine on a worker thread, events to coalesced Qt signals.
* ``run_actions`` — Run / Run selected / Stop / Rerun failed, progress, results on the canvas.
* ``docks`` — problems, log and figure panels.
* ``file_actions``, ``autosave`` — files, recent list, autosave and crash recovery.
* ``settings_dialog``, ``theme``, ``resources``, ``qtsetup`` — settings, looks, icon, Qt workarounds.
* ``main_window``, ``app`` — putting it together; ``nodeflow gui`` calls ``app.run``.
"""
