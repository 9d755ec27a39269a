"""How long `python run.py --validate` takes on a generated 1,000-state scenario.

Run: python bench/validate.py [--states N] [--repeat R]
Goal: under 1 s on one core for 1,000 states (whole command, interpreter start included).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from engine.cli import run  # noqa: E402


def generate(states: int) -> str:
    """A scenario using most of the language in every state, chained into one long flow."""
    lines = [
        "bot: {name: Bench, language: en, start: s0}",
        "vars: {count: 0, name: null, size: null}",
        "commands:",
        "  start: {description: Start over, goto: s0}",
        "  help: {description: Help, say: Tap a button.}",
        "fallback: {say: 'Sorry, I did not get that.', repeat: true}",
        "states:",
    ]
    for i in range(states):
        nxt, back = (i + 1) % states, max(i - 1, 0)
        kind = i % 4
        lines.append(f"  s{i}:")
        lines.append(
            f"    say: 'Step {i} for {{{{ user.first_name }}}}: you have {{{{ count }}}} points.'"
        )
        if kind == 0:
            lines += [
                "    set: {count: '{{ count + 1 }}'}",
                "    buttons:",
                f"      - [{{text: Next, goto: s{nxt}}}, {{text: Back, goto: s{back}}}]",
                f"      - {{text: More, goto: s{nxt}, if: count > 2}}",
            ]
        elif kind == 1:
            lines += [
                "    ask: {var: size, choices: [Small, Medium, Large], retry: Please tap a key.}",
                "    goto:",
                f'      - {{if: size == "Large", to: s{nxt}}}',
                f"      - {{to: s{back}}}",
            ]
        elif kind == 2:
            lines += [
                "    on:",
                "      - {match: '^(\\d+)$', set: {count: '{{ match[1] | int }}'}, goto: s"
                + str(nxt)
                + "}",
                "      - {type: photo, say: Nice photo!}",
                f"    after: {{delay: 10m, goto: s{nxt}}}",
            ]
        else:
            lines += [
                "    ask: {var: name, type: text, min_length: 2, retry: [Too short., 'At least 2 letters, please.']}",
                f"    goto: s{nxt}",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--states", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "big.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(generate(args.states))
        size = os.path.getsize(path)
        out = io.StringIO()
        code = run(["--validate", path], out, sys.stderr)
        if code != 0:
            print(out.getvalue())
            raise SystemExit(f"the generated scenario does not validate (exit {code})")
        in_process = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            run(["--validate", path], io.StringIO(), sys.stderr)
            in_process.append(time.perf_counter() - started)
        whole = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, os.path.join(ROOT, "run.py"), "--validate", path],
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=ROOT,
            )
            whole.append(time.perf_counter() - started)
    print(f"scenario: {args.states} states, {size:,} bytes")
    print(
        f"validate in process (warm): best {min(in_process):.3f} s, median {sorted(in_process)[len(in_process) // 2]:.3f} s"
    )
    print(
        f"python run.py --validate (whole command): best {min(whole):.3f} s, median {sorted(whole)[len(whole) // 2]:.3f} s"
    )
    print(f"goal: under 1 s for 1,000 states: {'met' if min(whole) < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
