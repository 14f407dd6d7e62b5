"""matplotlib/Plot: draws every y it receives against x and writes a PNG.

It uses ``matplotlib.figure.Figure`` with the Agg canvas directly, so it
never touches pyplot's global state or the GUI's backend, and is safe to run
in a worker thread. matplotlib is imported only when a plot is drawn.
"""
from __future__ import annotations

import io

from ...model.fileio import atomic_write_bytes
from ..types import ANY, STR, NodeError, NodeType, inp, out
from ._values import as_list, is_numpy, np

PNG_NAME = "plot.png"


def _is_scalar(v) -> bool:
    return isinstance(v, (int, float)) or (is_numpy(v) and getattr(v, "ndim", 1) == 0)


def _series(name: str, value) -> list:
    """A multiinput value as a list of series; a flat list of numbers is one series."""
    vals = [v for v in as_list(value) if v is not None]
    if vals and all(_is_scalar(v) for v in vals):
        return [vals]
    return vals


def _vector(label: str, v):
    numpy = np()
    try:
        a = numpy.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise NodeError(f"Plot: {label} must be numbers, got {type(v).__name__}") from None
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise NodeError(f"Plot: {label} must be one-dimensional, got shape {a.shape}")
    return a


def _plot(i, ctx):
    ys = _series("y", i.get("y"))
    xs = _series("x", i.get("x"))
    if not ys:
        raise NodeError("Plot: nothing to plot: connect at least one y")
    one_x = len(xs) <= 1
    if not xs:
        xs = [None] * len(ys)
    elif len(xs) == 1:
        xs = xs * len(ys)
    elif len(xs) != len(ys):
        raise NodeError(f"Plot: got {len(xs)} x inputs for {len(ys)} y inputs: give one x for all, or one per y")
    title = i.get("title")
    if title is not None and not isinstance(title, str):
        raise NodeError(f"Plot: 'title' must be text, got {type(title).__name__}")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    many = len(ys) > 1
    for n, (x, y) in enumerate(zip(xs, ys)):
        ylabel = f"y[{n}]" if many else "y"
        yv = _vector(ylabel, y)
        xv = np().arange(len(yv)) if x is None else _vector("x" if one_x else f"x[{n}]", x)
        if len(xv) != len(yv):
            raise NodeError(f"Plot: x has {len(xv)} values but {ylabel} has {len(yv)}")
        ax.plot(xv, yv, label=ylabel)
    if title:
        ax.set_title(title)
    if many:
        ax.legend()
    ax.grid(True, alpha=0.3)

    try:
        folder = ctx.output_dir
    except RuntimeError:
        raise NodeError("Plot: this run has no output folder to write the figure to") from None
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = folder / PNG_NAME
    atomic_write_bytes(path, buf.getvalue())
    ctx.log(f"wrote {path}")
    return {"figure": str(path)}


TYPES = [
    NodeType(("matplotlib", "Plot"),
             (inp("x", ANY, None, None, multiinput=True), inp("y", ANY, None, None, multiinput=True),
              inp("title", STR, "", "lineedit"), out("figure", STR)),
             function=_plot,
             description="draws every y against x (one x for all, or one per y) and writes plot.png"),
]
