"""`--graph --format svg|png`: a picture a person can open, drawn by Graphviz's dot, written
to a file or to standard output; without dot, a clear refusal with how to install it; a
broken scenario is still drawn but exits 1 with the validator's errors.

Graphviz is a system package: without `dot` these tests are skipped, unless
REQUIRE_GRAPHVIZ=1 (CI installs it and sets that), where its absence fails them."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from builders import ROOT

from engine.cli import run
from engine.scenario import validate_file

DEMO = ROOT / "scenarios" / "demo.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def require_dot() -> None:
    if shutil.which("dot") is not None:
        return
    message = "Graphviz's dot is not installed (apt-get install graphviz)"
    if os.environ.get("REQUIRE_GRAPHVIZ") == "1":
        pytest.fail(f"REQUIRE_GRAPHVIZ=1 but {message}")
    pytest.skip(f"{message}; CI sets REQUIRE_GRAPHVIZ=1 so these run there")


def graph(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["--graph", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's first chunk, which must be its header (IHDR)."""
    assert data[:8] == PNG_MAGIC, data[:16]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def svg_texts(data: bytes) -> list[str]:
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def demo_states() -> list[str]:
    """Every state of the demo, its included file's too."""
    report = validate_file(str(DEMO))
    assert report.scenario is not None
    return list(report.scenario.data["states"])


def test_svg_is_xml_with_every_state_of_the_demo(tmp_path: Path) -> None:
    require_dot()
    target = tmp_path / "demo.svg"
    code, out, err = graph(str(DEMO), "--output", str(target))  # the ending chooses svg
    assert code == 0, err
    assert out == "" and f"to {target}" in err
    texts = svg_texts(target.read_bytes())
    states = demo_states()
    assert len(states) > 10
    assert [s for s in states if s not in texts] == []
    assert "any state" in texts and "start" in texts
    assert "answer: size" in texts  # arrows keep their labels


def test_png_is_a_real_picture_of_a_sensible_size(tmp_path: Path) -> None:
    require_dot()
    target = tmp_path / "diagram.out"
    code, _, err = graph(str(DEMO), "--format", "png", "--output", str(target))
    assert code == 0, err
    width, height = png_size(target.read_bytes())
    assert 300 < width < 20000 and 300 < height < 20000, (width, height)


def test_png_goes_to_standard_output_when_redirected(tmp_path: Path) -> None:
    """`python run.py --graph --format png > demo.png`: bytes, not text, on stdout."""
    require_dot()
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--graph", str(DEMO), "--format", "png"],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert png_size(done.stdout)[0] > 300


def test_svg_on_standard_output() -> None:
    require_dot()
    code, out, err = graph(str(DEMO), "--format", "svg")
    assert code == 0, err
    assert "welcome" in svg_texts(out.encode("utf-8"))


def test_without_dot_it_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot to be found
    target = tmp_path / "demo.png"
    code, out, err = graph(str(DEMO), "--output", str(target))
    assert code == 1
    assert "needs Graphviz's `dot`, which is not installed" in err
    assert "apt-get install graphviz" in err and "--format mermaid" in err
    assert not target.exists() and out == ""


def test_a_broken_scenario_is_drawn_but_fails_with_the_errors(tmp_path: Path) -> None:
    require_dot()
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "bot: {name: X, start: a}\nstates:\n  a: {say: hi, goto: nowhere}\n", encoding="utf-8"
    )
    target = tmp_path / "broken.svg"
    code, _, err = graph(str(broken), "--output", str(target))
    assert code == 1
    assert f"{broken}:3:" in err and "nowhere" in err  # the validator's error, positioned
    assert "has errors" in err
    assert "nowhere (missing)" in svg_texts(target.read_bytes())


def test_a_broken_scenario_fails_in_the_text_formats_too(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "bot: {name: X, start: a}\nstates:\n  a: {say: hi, goto: nowhere}\n", encoding="utf-8"
    )
    code, out, err = graph(str(broken), "--format", "dot")
    assert code == 1 and "nowhere (missing)" in out and f"{broken}:3:" in err
    good_code, _, good_err = graph(str(DEMO), "--format", "dot")
    assert good_code == 0 and good_err == ""


def test_unreadable_yaml_draws_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("bot: [unclosed\n", encoding="utf-8")
    code, out, err = graph(str(broken), "--format", "svg")
    assert code == 1 and out == "" and f"{broken}:" in err


def test_an_output_name_without_a_known_ending_needs_format(tmp_path: Path) -> None:
    code, _, err = graph(str(DEMO), "--output", str(tmp_path / "demo.jpg"))
    assert code == 2 and "end it in .svg, .png, .dot or .mmd" in err
    code, _, err = graph(str(DEMO), "--output", str(tmp_path / "demo.mmd"))
    assert code == 0
    assert (tmp_path / "demo.mmd").read_text(encoding="utf-8").startswith("flowchart TD")


def test_output_and_picture_formats_belong_to_graph(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--validate", str(DEMO), "--output", str(tmp_path / "x.svg")], out, err) == 2
    assert "--output applies to --graph only" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert run(["--validate", str(DEMO), "--format", "svg"], out, err) == 2
    assert not (tmp_path / "x.svg").exists()


def test_a_png_is_not_printed_to_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    require_dot()

    class Terminal(io.StringIO):
        buffer = io.BytesIO()

        def isatty(self) -> bool:
            return True

    out, err = Terminal(), io.StringIO()
    assert run(["--graph", str(DEMO), "--format", "png"], out, err) == 2
    assert "add --output FILE.png" in err.getvalue()
    assert Terminal.buffer.getvalue() == b""


def test_an_output_that_cannot_be_written_is_one_clear_line(tmp_path: Path) -> None:
    target = tmp_path / "no such folder" / "demo.mmd"
    code, _, err = graph(str(DEMO), "--output", str(target))
    assert code == 1
    assert err == f"run.py: cannot write {target}: No such file or directory\n"
