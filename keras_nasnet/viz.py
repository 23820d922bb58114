"""Cell diagrams in the style of the NASNet paper's figures.

A cell is drawn bottom to top: the two inputs h_i (state 0) and h_{i-1}
(state 1) at the bottom; for each block, two op boxes fed by arrows from the
states they read, then the block's combine node (`+` for add, `concat` for
concatenation), whose output is state `2 + b`; and at the top the cell's
output `concat` node, fed by `cell.output_states`. Every state node carries its
index in small grey type, so the diagram can be read against the genotype
text (`sep_conv_3x3(2)` is the box fed by the node marked 2).

Two drawing engines, one look:

- Graphviz's `dot` (the layered layout of the NASNet figures and of DARTS'
  genotype plots: ranks by longest path, then crossings minimized), used by
  `save_genotype_diagrams` whenever the `dot` program is installed (Debian
  package `graphviz`; `scripts/setup.sh` installs it). `cell_to_dot` gives
  the DOT source.
- matplotlib, the fallback and what `plot_cell`/`plot_genotype` return:
  nodes placed in layers by the longest path from the inputs, ordered within
  a layer by barycenter sweeps that keep the order with the fewest crossings.
  Only `matplotlib.figure.Figure` is used (no pyplot, no display, no global
  backend change).

PNG, SVG and PDF are chosen by the file extension; SVG text stays text, so op
names can be searched in the file. The inputs are labelled h_i and h_{i-1}
with real subscripts.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for
Scalable Image Recognition", figures 4 and 7.
"""

import collections
import dataclasses
import html
import os
import shutil
import subprocess

from keras_nasnet.space import ops as ops_lib

# Sizes in data units; figures are sized so that one unit is one inch.
_X_SPACING = 1.6
_Y_SPACING = 1.0
_WAYPOINT_SPACING = 0.45
_BOX_WIDTH = 1.35
_BOX_HEIGHT = 0.34
_COMBINE_RADIUS = 0.17
_MARGIN = 0.4
_FONT_SIZE = 8
_EDGE_COLOR = "#333333"
_SAVE_FORMATS = ("png", "svg", "pdf")
ENGINES = ("auto", "dot", "matplotlib")

_COLORS = {
    "input": "#b3cde3",
    "conv": "#fed9a6",
    "pool": "#ccebc5",
    "identity": "#e5e5e5",
    "combine": "#ffffff",
    "output": "#fbb4ae",
}


@dataclasses.dataclass
class Node:
    """One node of a cell diagram.

    Attributes:
        kind: `"input"`, `"op"`, `"combine"` or `"output"`.
        label: the text drawn in the node.
        layer: longest path (in edges) from the inputs; 0 for the inputs.
        x: horizontal position (data units).
        y: vertical position (data units).
        state: the hidden-state index this node outputs (inputs and combine
            nodes), else `None`.
    """

    kind: str
    label: str
    layer: int
    x: float = 0.0
    y: float = 0.0
    state: int = None


@dataclasses.dataclass
class CellDiagram:
    """What `plot_cell` drew: nodes, edges, and the matplotlib objects.

    Attributes:
        nodes: node id -> `Node`. Ids are `"in_0"` (h_i), `"in_1"` (h_{i-1}),
            `"op_<b>_a"`, `"op_<b>_b"`, `"combine_<b>"` and `"output"`.
        edges: `(source id, target id)` pairs, one per arrow drawn: per block,
            two state -> op arrows and two op -> combine arrows; then one
            state -> output arrow per output state.
        routes: per edge, the `(x, y)` waypoints it passes through between
            its ends (empty for an edge between adjacent layers).
        figure: the `matplotlib.figure.Figure` drawn on, or `None` if only the
            layout was computed.
        ax: the `matplotlib.axes.Axes` drawn on, or `None`.
        arrows: the matplotlib arrow artists (one per edge, drawn from its
            last waypoint), in the order of `edges`.
    """

    nodes: dict
    edges: list
    routes: list = dataclasses.field(default_factory=list)
    figure: object = None
    ax: object = None
    arrows: list = dataclasses.field(default_factory=list)

    @property
    def width(self):
        """Width of the drawing in data units (inches at the default size)."""
        left, right = self._x_range()
        return right - left + _BOX_WIDTH + 2 * _MARGIN

    def _x_range(self):
        xs = [n.x for n in self.nodes.values()]
        xs += [x for route in self.routes for x, _ in route]
        return min(xs), max(xs)

    @property
    def height(self):
        """Height of the drawing in data units."""
        ys = [n.y for n in self.nodes.values()]
        return max(ys) - min(ys) + _BOX_HEIGHT + 2 * _MARGIN


def state_node_id(state):
    """Returns the id of the node that outputs hidden state `state`.

    >>> state_node_id(0), state_node_id(1), state_node_id(4)
    ('in_0', 'in_1', 'combine_2')
    """
    return f"in_{state}" if state < 2 else f"combine_{state - 2}"


def _op_color(op):
    if op == ops_lib.IDENTITY:
        return _COLORS["identity"]
    if op in ops_lib.POOLING_OPS:
        return _COLORS["pool"]
    return _COLORS["conv"]


def _gap(a, b, waypoints):
    # Centre-to-centre distance between neighbours in a layer.
    width = {True: _WAYPOINT_SPACING, False: _X_SPACING}
    return (width[a in waypoints] + width[b in waypoints]) / 2


def _spaced_closest(desired, gaps):
    """Positions closest (least squares) to `desired`, in order, `gaps` apart.

    With offsets `c` (cumulative gaps), `x - c` must be non-decreasing: an
    isotonic regression, solved by pooling adjacent violators.

    >>> _spaced_closest([0.0, 0.0, 5.0], [1.0, 1.0])
    [-0.5, 0.5, 5.0]
    """
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    pools = []  # [mean, count]
    for target in (d - c for d, c in zip(desired, offsets, strict=True)):
        pools.append([target, 1])
        while len(pools) > 1 and pools[-2][0] > pools[-1][0]:
            mean, count = pools.pop()
            pools[-1][0] = (pools[-1][0] * pools[-1][1] + mean * count) / (
                pools[-1][1] + count
            )
            pools[-1][1] += count
    values = [mean for mean, count in pools for _ in range(count)]
    return [v + c for v, c in zip(values, offsets, strict=True)]


def layout_cell(cell):
    """Places the nodes and edges of a cell's diagram, without drawing.

    Args:
        cell: a `keras_nasnet.Cell`.

    Returns:
        A `CellDiagram` with `figure` and `ax` set to `None`.

    Example:

    >>> from keras_nasnet import genotypes
    >>> diagram = layout_cell(genotypes.NASNET_A.reduction)
    >>> len(diagram.edges)  # 4 per block + one per output state
    24
    >>> diagram.nodes["in_0"].label, diagram.nodes["output"].layer
    ('h_i', 5)
    """
    nodes = {
        "in_0": Node("input", "h_i", 0, state=0),
        "in_1": Node("input", "h_{i-1}", 0, state=1),
    }
    edges = []
    # node id -> ids of the nodes feeding it, for the ordering heuristic.
    preds = collections.defaultdict(list)
    for b, block in enumerate(cell.blocks):
        sources = [state_node_id(i) for i in block.inputs]
        op_layer = 1 + max(nodes[s].layer for s in sources)
        combine_id = f"combine_{b}"
        label = "+" if block.combine == ops_lib.ADD else "concat"
        for slot, source, op in zip("ab", sources, block.ops, strict=True):
            op_id = f"op_{b}_{slot}"
            nodes[op_id] = Node("op", op, op_layer)
            edges.append((source, op_id))
            preds[op_id].append(source)
        nodes[combine_id] = Node("combine", label, op_layer + 1, state=2 + b)
        for slot in "ab":
            edges.append((f"op_{b}_{slot}", combine_id))
            preds[combine_id].append(f"op_{b}_{slot}")
    outputs = [state_node_id(i) for i in cell.output_states]
    nodes["output"] = Node("output", "concat", 1 + max(n.layer for n in nodes.values()))
    for source in outputs:
        edges.append((source, "output"))
        preds["output"].append(source)

    # An edge spanning several layers gets a waypoint in each layer it
    # crosses, with a slot of its own, so it never runs through a box.
    layers = collections.defaultdict(list)  # layer -> node and waypoint ids
    for node_id, node in nodes.items():
        layers[node.layer].append(node_id)
    waypoints = {}  # waypoint id -> layer
    for e, (source, target) in enumerate(edges):
        previous = source
        for layer in range(nodes[source].layer + 1, nodes[target].layer):
            waypoint = f"~{e}_{layer}"
            waypoints[waypoint] = layer
            layers[layer].append(waypoint)
            preds[waypoint].append(previous)
            previous = waypoint
        if previous != source:
            preds[target] = [previous if p == source else p for p in preds[target]]

    succs = collections.defaultdict(list)
    for node_id, feeding in preds.items():
        for p in feeding:
            succs[p].append(node_id)
    x = {}  # node or waypoint id -> x

    def place(ids):
        widths = [_WAYPOINT_SPACING if i in waypoints else _X_SPACING for i in ids]
        # Centre every layer on x = 0.
        left = -sum(widths) / 2
        for node_id, width in zip(ids, widths, strict=True):
            x[node_id] = left + width / 2
            left += width

    def mean_x(ids, default):
        ids = [i for i in ids if i in x]
        return sum(x[i] for i in ids) / len(ids) if ids else default

    def crossings():
        segments = [
            (x[p], x[t], nodes[t].layer if t in nodes else waypoints[t])
            for t, feeding in preds.items()
            for p in feeding
        ]
        return sum(
            1
            for i, (a0, a1, la) in enumerate(segments)
            for b0, b1, lb in segments[i + 1 :]
            if la == lb and (a0 - b0) * (a1 - b1) < 0
        )

    # Barycenter ordering (Sugiyama): sweeps up by the mean x of the feeding
    # nodes and down by the mean x of the fed ones, keeping the order with the
    # fewest crossings. The inputs stay put; stable sorts keep the block
    # order among ties.
    top = max(layers)
    order = {layer: list(layers.get(layer, ())) for layer in range(top + 1)}
    for layer in sorted(order):
        place(order[layer])
    best = None
    for sweep in range(8):
        if sweep % 2 == 0:
            for layer in range(1, top + 1):
                order[layer].sort(key=lambda i: mean_x(preds[i], x[i]))
                place(order[layer])
        else:
            for layer in range(top - 1, 0, -1):
                order[layer].sort(key=lambda i: mean_x(succs[i], x[i]))
                place(order[layer])
        count = crossings()
        if best is None or count < best[0]:
            best = (count, {layer: list(ids) for layer, ids in order.items()})
    order = best[1]
    for ids in order.values():
        place(ids)
    # Then move every node towards the mean x of its neighbours, keeping the
    # order and the spacing, so that long edges run straight.
    for _ in range(6):
        for layer in sorted(order):
            ids = order[layer]
            desired = [mean_x(preds[i] + succs[i], x[i]) for i in ids]
            gaps = [_gap(a, b, waypoints) for a, b in zip(ids, ids[1:], strict=False)]
            for node_id, value in zip(ids, _spaced_closest(desired, gaps), strict=True):
                x[node_id] = value
    for node_id, node in nodes.items():
        node.x = x[node_id]
        node.y = node.layer * _Y_SPACING
    routes = []
    for e, (source, target) in enumerate(edges):
        span = range(nodes[source].layer + 1, nodes[target].layer)
        routes.append([(x[f"~{e}_{layer}"], layer * _Y_SPACING) for layer in span])
    return CellDiagram(nodes=nodes, edges=edges, routes=routes)


def _check_path(path, argument="path"):
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in _SAVE_FORMATS:
        raise ValueError(
            f"Invalid value received for argument `{argument}`. Expected a file "
            f"name ending in one of {', '.join('.' + f for f in _SAVE_FORMATS)}. "
            f"Received: {argument}={str(path)!r}"
        )
    return ext


def _save(figure, path):
    import matplotlib

    ext = _check_path(path)
    directory = os.path.dirname(os.path.abspath(str(path)))
    os.makedirs(directory, exist_ok=True)
    # Keep SVG text as text (searchable, smaller) and its ids stable.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nasnet"}):
        metadata = {"Date": None} if ext in ("svg", "pdf") else None
        figure.savefig(str(path), format=ext, metadata=metadata)


def _new_figure(width, height):
    from matplotlib.figure import Figure

    # A bare Figure uses the Agg canvas and needs no pyplot or display.
    return Figure(figsize=(width, height))


def _draw(diagram, ax):
    from matplotlib.patches import Circle, FancyBboxPatch

    nodes = diagram.nodes
    for node in nodes.values():
        if node.kind == "combine":
            if node.label == "+":
                ax.add_patch(
                    Circle(
                        (node.x, node.y),
                        _COMBINE_RADIUS,
                        facecolor=_COLORS["combine"],
                        edgecolor="black",
                        linewidth=0.8,
                    )
                )
                ax.text(
                    node.x,
                    node.y,
                    "+",
                    ha="center",
                    va="center",
                    fontsize=_FONT_SIZE + 3,
                )
                continue
            color, box_width = _COLORS["combine"], _BOX_WIDTH * 0.6
        elif node.kind == "op":
            color, box_width = _op_color(node.label), _BOX_WIDTH
        else:
            color, box_width = _COLORS[node.kind], _BOX_WIDTH
        ax.add_patch(
            FancyBboxPatch(
                (node.x - box_width / 2, node.y - _BOX_HEIGHT / 2),
                box_width,
                _BOX_HEIGHT,
                boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=color,
                edgecolor="black",
                linewidth=0.8,
            )
        )
        ax.text(
            node.x,
            node.y,
            # "h_{i-1}" as mathtext: a real subscript, not literal braces.
            f"${node.label}$" if node.kind == "input" else node.label,
            ha="center",
            va="center",
            fontsize=_FONT_SIZE,
            family="monospace" if node.kind == "op" else None,
        )
    for node in nodes.values():
        if node.state is not None:
            # The state index, just right of the node, to match genotype text.
            right = _COMBINE_RADIUS if node.kind == "combine" else _BOX_WIDTH / 2
            if node.kind == "combine" and node.label != "+":
                right = _BOX_WIDTH * 0.3
            ax.text(
                node.x + right + 0.04,
                node.y,
                str(node.state),
                ha="left",
                va="center",
                fontsize=_FONT_SIZE - 1,
                color="#777777",
            )

    def half_height(node):
        if node.kind == "combine" and node.label == "+":
            return _COMBINE_RADIUS
        return _BOX_HEIGHT / 2

    arrows = []
    for (source_id, target_id), route in zip(
        diagram.edges, diagram.routes, strict=True
    ):
        source, target = nodes[source_id], nodes[target_id]
        points = [(source.x, source.y + half_height(source))] + list(route)
        if len(points) > 1:
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                color=_EDGE_COLOR,
                linewidth=0.7,
                zorder=0.5,
            )
        arrows.append(
            ax.annotate(
                "",
                xy=(target.x, target.y - half_height(target)),
                xytext=points[-1],
                arrowprops=dict(
                    arrowstyle="-|>",
                    color=_EDGE_COLOR,
                    linewidth=0.7,
                    shrinkA=0,
                    shrinkB=0,
                    mutation_scale=8,
                ),
            )
        )
    left, right = diagram._x_range()
    ys = [n.y for n in nodes.values()]
    ax.set_xlim(left - _BOX_WIDTH / 2 - _MARGIN, right + _BOX_WIDTH / 2 + _MARGIN)
    ax.set_ylim(
        min(ys) - _BOX_HEIGHT / 2 - _MARGIN, max(ys) + _BOX_HEIGHT / 2 + _MARGIN
    )
    ax.set_aspect("equal")
    # Cells of different heights side by side share a baseline.
    ax.set_anchor("S")
    ax.set_axis_off()
    diagram.ax = ax
    diagram.figure = ax.figure
    diagram.arrows = arrows
    return diagram


def plot_cell(cell, title=None, path=None, ax=None):
    """Draws a cell as in the NASNet paper's figures.

    Args:
        cell: a `keras_nasnet.Cell`.
        title: optional title drawn above the cell.
        path: optional file to write; the format follows the extension
            (`.png`, `.svg` or `.pdf`). Parent directories are created.
        ax: optional `matplotlib.axes.Axes` to draw on. Without it, a new
            figure is made, sized so that text fits the boxes.

    Returns:
        A `CellDiagram`: the nodes and edges drawn (see `layout_cell`), the
        figure and axes, and the arrow artists.

    Raises:
        ValueError: if `path` has an extension other than those above.

    Example:

    >>> from keras_nasnet import genotypes
    >>> diagram = plot_cell(genotypes.NASNET_A.normal, title="NASNet-A normal")
    >>> len(diagram.edges) == len(diagram.arrows) == 4 * 5 + 6
    True
    """
    if path is not None:
        _check_path(path)
    diagram = layout_cell(cell)
    if ax is None:
        title_space = 0.3 if title else 0.0
        figure = _new_figure(diagram.width, diagram.height + title_space)
        ax = figure.add_axes([0, 0, 1, diagram.height / (diagram.height + title_space)])
    _draw(diagram, ax)
    if title:
        ax.set_title(title, fontsize=_FONT_SIZE + 2)
    if path is not None:
        _save(diagram.figure, path)
    return diagram


def plot_genotype(genotype, path=None, title=None):
    """Draws a genotype's normal and reduction cells side by side.

    Args:
        genotype: a `keras_nasnet.Genotype`.
        path: optional file to write (`.png`, `.svg` or `.pdf`).
        title: optional figure title.

    Returns:
        A dict `{"normal": CellDiagram, "reduction": CellDiagram}`; both share
        one figure.

    Example:

    >>> from keras_nasnet import genotypes
    >>> diagrams = plot_genotype(genotypes.AMOEBANET_A)
    >>> diagrams["normal"].figure is diagrams["reduction"].figure
    True
    """
    if path is not None:
        _check_path(path)
    layouts = {name: layout_cell(cell) for name, cell in genotype.cells()}
    widths = [d.width for d in layouts.values()]
    height = max(d.height for d in layouts.values()) + 0.4
    if title:
        height += 0.3
    figure = _new_figure(sum(widths), height)
    axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": widths})
    figure.subplots_adjust(left=0, right=1, bottom=0, wspace=0)
    diagrams = {}
    for (name, cell), ax in zip(genotype.cells(), axes, strict=True):
        diagrams[name] = plot_cell(cell, title=f"{name} cell", ax=ax)
    if title:
        figure.suptitle(title, fontsize=_FONT_SIZE + 3)
    if path is not None:
        _save(figure, path)
    return diagrams


def dot_available():
    """Whether Graphviz's `dot` program is on the PATH."""
    return shutil.which("dot") is not None


def _dot_label(node):
    """A node's label in Graphviz's HTML-like syntax (subscripts for inputs)."""
    if node.kind == "input":
        # "h_i" -> h<SUB>i</SUB>; "h_{i-1}" -> h<SUB>i-1</SUB>.
        base, _, sub = node.label.partition("_")
        return f"<{html.escape(base)}<SUB>{html.escape(sub.strip('{}'))}</SUB>>"
    return f"<{html.escape(node.label)}>"


def cell_to_dot(cell, title=None):
    """The cell's diagram in Graphviz's DOT language, drawn bottom to top.

    The nodes and edges are `layout_cell`'s (same ids); `dot` places them:
    one rank per longest-path layer, crossings minimized. Inputs sit on the
    lowest rank, the output `concat` on the highest, and every state node
    carries its index as a small grey external label.

    Args:
        cell: a `keras_nasnet.Cell`.
        title: optional title drawn above the cell.

    Returns:
        The DOT source, a string.

    Example:

    >>> from keras_nasnet import genotypes
    >>> source = cell_to_dot(genotypes.NASNET_A.normal)
    >>> "in_1 [label=<h<SUB>i-1</SUB>>" in source
    True
    >>> source.count(" -> ")  # 26 arrows, and one hidden edge: h_i left of h_{i-1}
    27
    """
    diagram = layout_cell(cell)
    lines = [
        "digraph cell {",
        "  graph [rankdir=BT, nodesep=0.18, ranksep=0.3, forcelabels=true, "
        'fontname="Helvetica", fontsize=11, labelloc=t];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", '
        f'fontsize={_FONT_SIZE + 1}, height=0.3, margin="0.08,0.03", penwidth=0.8];',
        f'  edge [color="{_EDGE_COLOR}", arrowsize=0.5, penwidth=0.8];',
    ]
    if title:
        lines.append(f"  label=<{html.escape(title)}>;")
    for node_id, node in diagram.nodes.items():
        attributes = {"label": _dot_label(node)}
        if node.kind == "combine" and node.label == "+":
            attributes.update(
                shape="circle", width="0.3", fixedsize="true", fillcolor="white"
            )
        elif node.kind == "combine":
            attributes["fillcolor"] = _COLORS["combine"]
        elif node.kind == "op":
            attributes.update(fillcolor=_op_color(node.label), fontname="Courier")
        else:
            attributes["fillcolor"] = _COLORS[node.kind]
        if node.state is not None:
            attributes["xlabel"] = (
                f'<<FONT POINT-SIZE="{_FONT_SIZE - 1}" COLOR="#777777">'
                f"{node.state}</FONT>>"
            )
        text = ", ".join(
            f"{key}={value}" if value.startswith("<") else f'{key}="{value}"'
            for key, value in attributes.items()
        )
        lines.append(f"  {node_id} [{text}];")
    # h_i left of h_{i-1} on the lowest rank, the output alone on the top one.
    lines.append("  { rank=min; in_0 -> in_1 [style=invis]; }")
    lines.append("  { rank=max; output; }")
    for source, target in diagram.edges:
        lines.append(f"  {source} -> {target};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render_dot(source, path):
    """Lays out and writes DOT `source` with the `dot` program."""
    ext = _check_path(path)
    directory = os.path.dirname(os.path.abspath(str(path)))
    os.makedirs(directory, exist_ok=True)
    result = subprocess.run(
        ["dot", f"-T{ext}", "-o", str(path)],
        input=source.encode("utf-8"),
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"Graphviz's dot could not write {str(path)!r}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )


def _check_engine(engine):
    if engine not in ENGINES:
        raise ValueError(
            "Invalid value received for argument `engine`. Expected one of "
            f"{ENGINES}. Received: engine={engine!r}"
        )
    if engine == "auto":
        return "dot" if dot_available() else "matplotlib"
    if engine == "dot" and not dot_available():
        raise ValueError(
            "Invalid value received for argument `engine`. Expected an engine "
            "that is installed: Graphviz's `dot` program is not on the PATH "
            "(Debian: `apt install graphviz`). Received: engine='dot'"
        )
    return engine


def save_genotype_diagrams(
    genotype, directory, stem="genotype", formats=("png", "svg"), engine="auto"
):
    """Writes one diagram per cell and format: `<stem>_<cell>.<format>`.

    Args:
        genotype: a `keras_nasnet.Genotype`.
        directory: where to write (created if missing).
        stem: file name prefix.
        formats: extensions to write, among `png`, `svg`, `pdf`.
        engine: `"dot"` (Graphviz), `"matplotlib"`, or `"auto"`: dot when
            installed, else matplotlib.

    Returns:
        A dict `cell name -> {format: path}`, e.g.
        `{"normal": {"png": ".../g_normal.png", "svg": ...}, "reduction": ...}`.

    Raises:
        ValueError: on an unknown format or engine, or `engine="dot"` without
            Graphviz.
    """
    formats = [str(f).lower().lstrip(".") for f in formats]
    for fmt in formats:
        _check_path(f"x.{fmt}", argument="formats")
    engine = _check_engine(engine)
    paths = {}
    for name, cell in genotype.cells():
        title = f"{name} cell"
        if engine == "dot":
            source = cell_to_dot(cell, title=title)
        else:
            figure = plot_cell(cell, title=title).figure
        paths[name] = {}
        for fmt in formats:
            path = os.path.join(str(directory), f"{stem}_{name}.{fmt}")
            if engine == "dot":
                _render_dot(source, path)
            else:
                _save(figure, path)
            paths[name][fmt] = path
    return paths


def genotype_summary(genotype):
    """Returns the genotype's text form followed by per-cell op counts.

    Example:

    >>> from keras_nasnet import genotypes
    >>> print(genotype_summary(genotypes.NASNET_A).splitlines()[-2])
    normal ops: avg_pool_3x3 x3, sep_conv_3x3 x3, identity x2, sep_conv_5x5 x2; add x5
    """
    lines = [str(genotype)]
    for name, cell in genotype.cells():
        counts = collections.Counter(op for block in cell.blocks for op in block.ops)
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        text = ", ".join(f"{op} x{n}" for op, n in ordered)
        combines = collections.Counter(block.combine for block in cell.blocks)
        text += "; " + ", ".join(f"{c} x{n}" for c, n in sorted(combines.items()))
        lines.append(f"{name} ops: {text}")
    return "\n".join(lines)
