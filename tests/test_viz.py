"""Tests for `keras_nasnet.viz`: cell diagrams."""

import collections
import random
import struct
import xml.etree.ElementTree as ET

import pytest
from matplotlib.text import Annotation

from keras_nasnet import Genotype, genotypes, random_genotype, viz
from keras_nasnet.space import ops as ops_lib

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# A small genotype with both combine methods, a long edge and a derived concat.
SMALL = Genotype.parse(
    "normal: sep_conv_3x3(0) || identity(1), avg_pool_3x3(2) + dil_sep_conv_3x3(0); "
    "reduction: max_pool_3x3(0) + sep_conv_5x5(1), identity(2) || max_pool_3x3(0)"
)


def _cells():
    cells = [
        (f"{name}/{cell_name}", cell)
        for name, genotype in genotypes.KNOWN_GENOTYPES.items()
        for cell_name, cell in genotype.cells()
    ]
    cells += [(f"small/{n}", c) for n, c in SMALL.cells()]
    for seed in range(4):
        genotype = random_genotype(seed, combines=ops_lib.COMBINES, num_blocks=3)
        cells += [(f"random{seed}/{n}", c) for n, c in genotype.cells()]
    return cells


CELLS = _cells()
CELL_IDS = [name for name, _ in CELLS]


def _expected_edges(cell):
    # Written from the paper's picture, independently of the layout code.
    def state(i):
        return "in_0" if i == 0 else "in_1" if i == 1 else f"combine_{i - 2}"

    edges = []
    for b, block in enumerate(cell.blocks):
        edges += [
            (state(block.input_a), f"op_{b}_a"),
            (state(block.input_b), f"op_{b}_b"),
        ]
        edges += [(f"op_{b}_a", f"combine_{b}"), (f"op_{b}_b", f"combine_{b}")]
    edges += [(state(i), "output") for i in cell.output_states]
    return edges


def _svg_texts(path):
    root = ET.parse(path).getroot()
    return [
        # Mathtext splits a label into indented tspans: "h", "i" for h_i.
        "".join(part.strip() for part in el.itertext())
        for el in root.iter()
        if el.tag.endswith("}text") or el.tag == "text"
    ]


@pytest.mark.parametrize("name,cell", CELLS, ids=CELL_IDS)
def test_layout_edges_are_the_cells_wiring(name, cell):
    diagram = viz.layout_cell(cell)
    assert sorted(diagram.edges) == sorted(_expected_edges(cell))
    assert len(diagram.edges) == 4 * cell.num_blocks + len(cell.output_states)
    kinds = collections.Counter(node.kind for node in diagram.nodes.values())
    assert kinds == {
        "input": 2,
        "op": 2 * cell.num_blocks,
        "combine": cell.num_blocks,
        "output": 1,
    }
    for b, block in enumerate(cell.blocks):
        assert diagram.nodes[f"op_{b}_a"].label == block.op_a
        assert diagram.nodes[f"op_{b}_b"].label == block.op_b
        assert diagram.nodes[f"combine_{b}"].state == 2 + b
        expected = "+" if block.combine == ops_lib.ADD else "concat"
        assert diagram.nodes[f"combine_{b}"].label == expected


@pytest.mark.parametrize("name,cell", CELLS, ids=CELL_IDS)
def test_layout_is_layered_without_overlaps(name, cell):
    diagram = viz.layout_cell(cell)
    nodes = diagram.nodes
    assert {nodes["in_0"].label, nodes["in_1"].label} == {"h_i", "h_{i-1}"}
    # Inputs at the bottom, output alone at the top, every edge goes up.
    assert nodes["in_0"].layer == nodes["in_1"].layer == 0
    top = max(n.layer for n in nodes.values())
    assert [k for k, n in nodes.items() if n.layer == top] == ["output"]
    for (source, target), route in zip(diagram.edges, diagram.routes, strict=True):
        assert nodes[target].layer > nodes[source].layer
        # One waypoint per layer crossed; none inside a box of its layer.
        assert [y for _, y in route] == [
            float(layer)
            for layer in range(nodes[source].layer + 1, nodes[target].layer)
        ]
        for x, y in route:
            for node in nodes.values():
                if node.y == y:
                    assert abs(node.x - x) > viz._BOX_WIDTH / 2
    # Boxes in a layer do not overlap.
    by_layer = collections.defaultdict(list)
    for node in nodes.values():
        by_layer[node.layer].append(node.x)
    for xs in by_layer.values():
        xs.sort()
        assert all(b - a >= viz._BOX_WIDTH for a, b in zip(xs, xs[1:], strict=False))
    # Longest path from the inputs; a block's two ops share a layer, one above
    # the higher of the block's inputs, and its combine node sits above them.
    for b, block in enumerate(cell.blocks):
        inputs = [nodes[viz.state_node_id(i)].layer for i in block.inputs]
        assert nodes[f"op_{b}_a"].layer == nodes[f"op_{b}_b"].layer == max(inputs) + 1
        assert nodes[f"combine_{b}"].layer == max(inputs) + 2


@pytest.mark.parametrize(
    "cell",
    [genotypes.NASNET_A.normal, genotypes.AMOEBANET_A.reduction, SMALL.normal],
    ids=["nasnet_a_normal", "amoebanet_a_reduction", "small_normal"],
)
def test_svg_keeps_every_label_as_text(tmp_path, cell):
    path = tmp_path / "cell.svg"
    diagram = viz.plot_cell(cell, title="a cell", path=path)
    texts = collections.Counter(_svg_texts(path))
    ops = collections.Counter(op for block in cell.blocks for op in block.ops)
    for op, count in ops.items():
        assert texts[op] == count, op
    # Subscripts (mathtext: "h" then a smaller "i", "i−1"), never the braces.
    assert texts["hi"] == 1
    assert texts["hi\u22121"] == 1
    assert not [t for t in texts if "{" in t or "_{" in t]
    adds = sum(block.combine == ops_lib.ADD for block in cell.blocks)
    assert texts["+"] == adds
    # Concat blocks, plus the output node.
    assert texts["concat"] == cell.num_blocks - adds + 1
    assert texts["a cell"] == 1
    # One arrow per edge on the axes.
    annotations = [t for t in diagram.ax.texts if isinstance(t, Annotation)]
    assert len(annotations) == len(diagram.edges) == len(diagram.arrows)
    assert len(diagram.edges) == 4 * cell.num_blocks + len(cell.output_states)


def test_png_is_a_valid_png(tmp_path):
    path = tmp_path / "cell.png"
    diagram = viz.plot_cell(genotypes.NASNET_A.reduction, path=path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    dpi = diagram.figure.dpi
    assert (width, height) == (
        round(diagram.figure.get_figwidth() * dpi),
        round(diagram.figure.get_figheight() * dpi),
    )
    assert data.endswith(b"IEND\xaeB`\x82")


def test_arrows_end_at_their_target(tmp_path):
    diagram = viz.plot_cell(SMALL.reduction)
    for (_, target), arrow in zip(diagram.edges, diagram.arrows, strict=True):
        x, y = arrow.xy
        node = diagram.nodes[target]
        assert x == pytest.approx(node.x)
        assert y < node.y


def test_plot_cell_draws_on_a_given_axes():
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot()
    diagram = viz.plot_cell(SMALL.normal, ax=ax)
    assert diagram.ax is ax and diagram.figure is figure
    assert len([t for t in ax.texts if isinstance(t, Annotation)]) == len(diagram.edges)


def test_plot_genotype_draws_both_cells(tmp_path):
    path = tmp_path / "genotype.svg"
    diagrams = viz.plot_genotype(genotypes.AMOEBANET_C, path=path, title="AmoebaNet-C")
    assert set(diagrams) == {"normal", "reduction"}
    assert diagrams["normal"].figure is diagrams["reduction"].figure
    texts = _svg_texts(path)
    assert {"normal cell", "reduction cell", "AmoebaNet-C"} <= set(texts)
    assert texts.count("hi") == 2


@pytest.fixture(params=["dot", "matplotlib"])
def engine(request):
    if request.param == "dot" and not viz.dot_available():
        pytest.skip("Graphviz's dot is not installed (scripts/setup.sh installs it)")
    return request.param


def test_save_genotype_diagrams_writes_each_cell_and_format(tmp_path, engine):
    paths = viz.save_genotype_diagrams(SMALL, tmp_path / "out", "best", engine=engine)
    assert set(paths) == {"normal", "reduction"}
    for cell_name, files in paths.items():
        assert set(files) == {"png", "svg"}
        assert files["png"].endswith(f"best_{cell_name}.png")
        with open(files["png"], "rb") as f:
            assert f.read(8) == PNG_MAGIC
        texts = _svg_texts(files["svg"])
        cell = getattr(SMALL, cell_name)
        assert {op for block in cell.blocks for op in block.ops} <= set(texts)


needs_dot = pytest.mark.skipif(
    not viz.dot_available(),
    reason="Graphviz's dot is not installed (scripts/setup.sh installs it)",
)


@needs_dot
def test_dot_labels_have_subscripts_and_state_indices(tmp_path):
    paths = viz.save_genotype_diagrams(
        genotypes.NASNET_A, tmp_path, formats=("svg",), engine="dot"
    )
    root = ET.parse(paths["normal"]["svg"]).getroot()
    texts = [el for el in root.iter() if el.tag.endswith("}text")]
    subscripts = [el.text for el in texts if el.get("baseline-shift") == "sub"]
    assert sorted(subscripts) == ["i", "i-1"]
    words = [el.text for el in texts]
    assert not [w for w in words if "{" in w or "_{" in w]
    # The state indices 0..6, each once, in small grey type.
    grey = [el.text for el in texts if el.get("fill") == "#777777"]
    assert sorted(grey, key=int) == [str(i) for i in range(7)]


@needs_dot
def test_dot_layout_is_layered_bottom_to_top():
    import subprocess

    for cell in (genotypes.NASNET_A.normal, genotypes.AMOEBANET_A.reduction):
        plain = subprocess.run(
            ["dot", "-Tplain"],
            input=viz.cell_to_dot(cell),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        y = {
            fields[1]: float(fields[3])
            for fields in (line.split() for line in plain.splitlines())
            if fields[0] == "node"
        }
        diagram = viz.layout_cell(cell)
        assert set(y) == set(diagram.nodes)
        # Every arrow points up; the inputs are lowest, the output highest.
        assert all(y[target] > y[source] for source, target in diagram.edges)
        assert y["in_0"] == y["in_1"] == min(y.values())
        assert y["output"] == max(y.values())


def test_auto_engine_falls_back_to_matplotlib_without_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    assert not viz.dot_available()
    paths = viz.save_genotype_diagrams(SMALL, tmp_path, formats=("svg",))
    # matplotlib's SVG says so in its metadata; dot's in a comment.
    with open(paths["normal"]["svg"]) as f:
        assert "Matplotlib" in f.read()
    with pytest.raises(ValueError, match="apt install graphviz"):
        viz.save_genotype_diagrams(SMALL, tmp_path, engine="dot")
    with pytest.raises(ValueError, match="`engine`"):
        viz.save_genotype_diagrams(SMALL, tmp_path, engine="pydot")


@pytest.mark.parametrize("bad", ["cell.jpeg", "cell"])
def test_bad_extension_raises_before_writing(tmp_path, bad):
    with pytest.raises(ValueError, match="Expected a file name ending in"):
        viz.plot_cell(SMALL.normal, path=tmp_path / bad)
    with pytest.raises(ValueError, match="`formats`"):
        viz.save_genotype_diagrams(SMALL, tmp_path, formats=("png", "gif"))
    assert list(tmp_path.iterdir()) == []


def test_genotype_summary_counts_every_op():
    text = viz.genotype_summary(genotypes.AMOEBANET_A)
    lines = text.splitlines()
    assert "\n".join(lines[:2]) == str(genotypes.AMOEBANET_A)
    for line, (name, cell) in zip(
        lines[2:], genotypes.AMOEBANET_A.cells(), strict=True
    ):
        assert line.startswith(f"{name} ops: ")
        ops_part, combines_part = line[len(f"{name} ops: ") :].split("; ")
        counts = {
            item.rsplit(" x", 1)[0]: int(item.rsplit(" x", 1)[1])
            for item in ops_part.split(", ")
        }
        assert counts == collections.Counter(op for b in cell.blocks for op in b.ops)
        assert combines_part == f"add x{cell.num_blocks}"


def test_spaced_closest_keeps_order_and_gaps():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 8)
        desired = [rng.uniform(-5, 5) for _ in range(n)]
        gaps = [rng.choice([0.45, 1.025, 1.6]) for _ in range(n - 1)]
        xs = viz._spaced_closest(desired, gaps)
        for (a, b), gap in zip(zip(xs, xs[1:], strict=False), gaps, strict=True):
            assert b - a >= gap - 1e-9
        # Already spaced positions are kept.
        spaced = [0.0]
        for gap in gaps:
            spaced.append(spaced[-1] + gap + rng.uniform(0, 1))
        assert viz._spaced_closest(spaced, gaps) == pytest.approx(spaced)
