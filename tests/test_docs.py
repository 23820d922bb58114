"""The docs build with mkdocs in strict mode: a broken link or anchor fails."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_docs_build_strict(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "user-guide" / "index.html").is_file()


def test_readme_links_resolve():
    # mkdocs checks docs/; the README's relative links are checked here.
    import re

    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links
    missing = [
        link
        for link in links
        if not link.startswith("http") and not os.path.exists(os.path.join(ROOT, link))
    ]
    assert missing == []


def test_saved_model_exports_use_a_versioned_folder():
    # TF Serving loads `--model_base_path/<version>/`: every `--saved-model`
    # path the docs show ends in a version number.
    import glob
    import re

    paths = {}
    for name in ["README.md", *glob.glob(os.path.join(ROOT, "docs", "*.md"))]:
        with open(os.path.join(ROOT, name)) as f:
            for path in re.findall(r"--saved-model\s+(\S+)", f.read()):
                paths[path] = os.path.basename(name)
    assert paths
    assert {p: doc for p, doc in paths.items() if not re.search(r"/\d+$", p)} == {}
