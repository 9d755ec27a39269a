"""Author mistakes, one per small scenario: each must be reported with its stable code at the
exact line and column an editor should jump to (and with the hint that helps fix it)."""

from __future__ import annotations

import fnmatch
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scenario_codes import ROOT, WARNING_CODES, emitted_codes

from engine.scenario import ValidationReport, validate_file

WriteFile = Callable[..., Path]  # the write_file fixture of conftest.py


def y(text: str) -> str:
    """A YAML text written indented in this file, as the author would have it."""
    return textwrap.dedent(text).lstrip("\n")


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes
    code: str
    line: int
    column: int
    contains: tuple[str, ...] = ()  # parts of the message that must be there
    files: dict[str, str] = field(default_factory=dict)  # more files next to main.yaml
    where: str = "main.yaml"  # the file the diagnostic is in


MINIMAL = "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hi\n    end: true\n"
HEAD = "bot: {name: T, start: a}\nstates:\n  a:\n"  # then the lines of state a
DONE = "  done:\n    say: Bye\n    end: true\n"
LIST = (
    "bot: {name: T, start: a}\nvars: {products: []}\nstates:\n  a:\n    say: Pick\n    buttons:\n"
)

BILLION_LAUGHS = MINIMAL + y(
    """
    vars:
      a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    """
)

CASES = [
    # ---- the YAML itself ------------------------------------------------------------------
    Case(
        "yaml-syntax-bad-indentation",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: Hi
               end: true
            """
        ),
        "yaml-syntax",
        5,
        4,
    ),
    Case(
        "yaml-syntax-unquoted-colon-in-text",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: Note: we are closed today
                end: true
            """
        ),
        "yaml-syntax",
        4,
        14,
        ("put the whole text in quotes",),
    ),
    Case(
        "yaml-syntax-tab-indentation",
        "bot: {name: T, start: a}\nstates:\n  a:\n\tsay: Hi\n    end: true\n",
        "yaml-syntax",
        4,
        1,
        ("Indent with spaces, not tabs",),
    ),
    Case(
        "yaml-syntax-tab-after-spaces",
        "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hi\n  \tend: true\n",
        "yaml-syntax",
        5,
        3,
        ("Indent with spaces, not tabs",),
    ),
    Case(
        "yaml-syntax-unclosed-quote",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: "Hi there
                end: true
            """
        ),
        "yaml-syntax",
        4,
        10,
        ("never closed",),
    ),
    Case(
        "yaml-syntax-unclosed-bracket",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: [Hi, Hello
                end: true
            """
        ),
        "yaml-syntax",
        5,
        8,
    ),
    Case(
        "yaml-syntax-undefined-alias",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: *greeting
                end: true
            """
        ),
        "yaml-syntax",
        4,
        10,
        ("Define the anchor (&name) before using it",),
    ),
    Case(
        "yaml-syntax-list-item-after-key",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: - Hi
                end: true
            """
        ),
        "yaml-syntax",
        4,
        10,
    ),
    Case(
        "yaml-syntax-invisible-control-character",
        HEAD + "    say: H\u00e9\x08llo\n    end: true\n",
        "yaml-syntax",
        4,
        12,
        ("U+0008 is not allowed",),
    ),
    Case(
        "duplicate-key-in-state",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: Hi
                say: Hello
                end: true
            """
        ),
        "duplicate-key",
        5,
        5,
        ("'say' is written twice", "first at line 4"),
    ),
    Case(
        "duplicate-key-second-states-section",
        y(
            """
            bot: {name: T, start: a}
            states:
              a: {say: Hi, end: true}
            states:
              b: {say: Bye, end: true}
            """
        ),
        "duplicate-key",
        4,
        1,
        ("first at line 2",),
    ),
    Case(
        "duplicate-key-in-flow-mapping",
        "bot: {name: T, start: a, name: U}\nstates:\n  a: {say: Hi, end: true}\n",
        "duplicate-key",
        1,
        26,
    ),
    Case(
        "yaml-tag-python-object",
        HEAD + '    say: !!python/object/apply:os.system ["echo hi"]\n    end: true\n',
        "yaml-tag",
        4,
        10,
        ("'!!python/object/apply:os.system' is not allowed",),
    ),
    Case(
        "yaml-tag-include-from-another-tool",
        HEAD + "    say: !include greeting.txt\n    end: true\n",
        "yaml-tag",
        4,
        10,
        ("'!include'",),
    ),
    Case(
        "yaml-tag-on-a-key",
        "bot: {name: T, start: a}\nstates:\n  !secret a: {say: Hi, end: true}\n",
        "yaml-tag",
        3,
        3,
    ),
    Case(
        "yaml-syntax-unquoted-template",
        HEAD + "    say: {{ user.first_name }}\n    end: true\n",
        "yaml-syntax",
        4,
        10,
        ("needs quotes around it", 'write say: "{{ user.first_name }}"'),
    ),
    Case(
        "set-text-shown-untranslated",
        y(
            """
            bot: {name: T, start: a, language: en, languages: [en, de]}
            vars: {rating: null}
            states:
              a:
                say: How was it?
                buttons:
                  - {text: Good, set: {rating: good}, goto: done}
              done:
                say: "You found it {{ rating }}."
                end: true
            """
        ),
        "set-text-shown",
        9,
        10,
        ("('good', line 7)", "users who speak de read it untranslated", "{{ _(rating) }}"),
    ),
    Case(
        "null-filter-variable-never-set",
        y(
            """
            bot: {name: T, start: a}
            vars: {total: null}
            states:
              a:
                say: "Total: {{ total | currency('EUR') }}"
                end: true
            """
        ),
        "null-filter",
        5,
        10,
        ("`total` in state 'a' at `say` is never given a value", "prints nothing"),
    ),
    Case(
        "null-filter-skipped-answer",
        y(
            """
            bot: {name: T, start: a}
            vars: {tip: null}
            states:
              a:
                say: Any tip?
                ask: {var: tip, type: number, optional: true, skip_text: No tip}
                goto: done
              done:
                say:
                  - "Tip: {{ tip | currency('EUR') }}"
                  - text: "Thanks for {{ tip | currency('EUR') }}"
                    if: tip
                  - "{% if tip %}Tip: {{ tip | number }}{% endif %} {{ tip | default(0) | number }}"
                end: true
            """
        ),
        "null-filter",
        10,
        9,
        ("is null when the user skips the question on line 6", "{% if tip %}"),
    ),
    Case(
        "misplaced-key-read-as-a-state",
        HEAD + "    say: Hi\n  goto: done\n" + DONE,
        "misplaced-key",
        5,
        3,
        ("read as a state called 'goto'", "indent it by 4 spaces"),
    ),
    Case(
        "complex-key-explicit-list-key",
        HEAD + "    ? [say, text]\n    : Hi\n    end: true\n",
        "complex-key",
        4,
        7,
    ),
    Case(
        "yaml-merge-of-a-list",
        y(
            """
            bot: {name: T, start: a}
            vars:
              greetings: &greetings [Hi, Hello]
            states:
              a:
                <<: *greetings
                say: Hi
                end: true
            """
        ),
        "yaml-merge",
        6,
        5,
        ("'<<: *defaults'",),
    ),
    Case(
        "multiple-documents",
        MINIMAL + "---\n" + MINIMAL,
        "multiple-documents",
        6,
        1,
        ("more than one YAML document",),
    ),
    Case(
        "multiple-documents-after-a-leading-marker",
        "---\n" + MINIMAL + "---\n" + MINIMAL,
        "multiple-documents",
        7,
        1,
    ),
    Case("empty-file", "", "empty-file", 1, 1),
    Case("empty-file-only-comments", "# my bot\n\n# to do: write it\n", "empty-file", 1, 1),
    Case("empty-file-only-blank-lines", "  \n\n\t\n", "empty-file", 1, 1),
    Case(
        "encoding-utf-16",
        MINIMAL.encode("utf-16"),
        "encoding",
        1,
        1,
        ("UTF-16", "save it as UTF-8"),
    ),
    Case(
        "encoding-latin-1-accent",
        HEAD.encode() + b"    say: Caf\xe9 open\n    end: true\n",
        "encoding",
        4,
        13,
        ("byte 0xe9 is not valid UTF-8",),
    ),
    Case(
        "encoding-column-counts-characters-not-bytes",
        HEAD.encode() + "    say: Привет".encode() + b"\xff\n    end: true\n",
        "encoding",
        4,
        16,
    ),
    Case(
        "not-text-nul-byte",
        HEAD.encode() + b"    say: \x00Hi\n    end: true\n",
        "not-text",
        4,
        10,
        ("NUL bytes",),
    ),
    Case(
        "too-deep-nested-brackets",
        MINIMAL + "vars: " + "[" * 60 + "]" * 60 + "\n",
        "too-deep",
        6,
        56,
        ("more than 50 levels deep",),
    ),
    Case(
        "too-deep-alias-inside-itself",
        MINIMAL + "vars:\n  loop: &loop [*loop]\n",
        "too-deep",
        7,
        9,
        ("repeats a list or mapping that contains it",),
    ),
    Case(
        "too-deep-chain-of-aliases",
        MINIMAL
        + "vars:\n"
        + "  x: &x "
        + "[" * 30
        + "1"
        + "]" * 30
        + "\n"
        + "  y: "
        + "[" * 30
        + "*x"
        + "]" * 30
        + "\n",
        "too-deep",
        8,
        15,
        ("aliases (*name) repeated",),
    ),
    Case(
        "too-many-nodes-billion-laughs",
        BILLION_LAUGHS,
        "too-many-nodes",
        12,
        6,
        ("more than 200,000 values",),
    ),
    Case(
        "too-many-items-in-one-list",
        HEAD
        + "    say: Pick one\n    ask: {var: n, choices: ["
        + ", ".join(str(i) for i in range(10_001))
        + "]}\n    goto: a\n",
        "too-many-items",
        5,
        28,
        ("10,001 entries",),
    ),
    Case(
        "file-too-large",
        MINIMAL + "#" * 2_000_001 + "\n",
        "file-too-large",
        1,
        1,
        ("at most 2,000,000 bytes", "include"),
    ),
    Case(
        "not-a-mapping-list-at-the-top",
        "- bot: {name: T, start: a}\n- states: {a: {say: Hi, end: true}}\n",
        "not-a-mapping",
        1,
        1,
    ),
    Case("not-a-mapping-plain-text", "Hello, this is my bot.\n", "not-a-mapping", 1, 1),
    # ---- keys and values against the schema ----------------------------------------------
    Case(
        "unknown-key-misspelt-states",
        "bot: {name: T, start: a}\nstats:\n  a: {say: Hi, end: true}\n",
        "unknown-key",
        2,
        1,
        ("unknown key 'stats' at the top level", "Did you mean 'states'?"),
    ),
    Case(
        "unknown-key-state-written-at-the-top",
        y(
            """
            bot: {name: T, start: a}
            states:
              a: {say: Hi, goto: b}
            b:
              say: Bye
              end: true
            """
        ),
        "unknown-key",
        4,
        1,
        ("'b' looks like a state: put it under `states:`",),
    ),
    Case(
        "unknown-key-in-bot",
        "bot: {name: T, start: a, langauge: en}\nstates:\n  a: {say: Hi, end: true}\n",
        "unknown-key",
        1,
        26,
        ("Did you mean 'language'?",),
    ),
    Case(
        "unknown-key-in-state",
        HEAD + "    sya: Hi\n    end: true\n",
        "unknown-key",
        4,
        5,
        ("unknown key 'sya' in state 'a'", "Did you mean 'say'?"),
    ),
    Case(
        "unknown-key-in-button",
        HEAD + "    say: Hi\n    buttons:\n      - {text: Go, got: done}\n" + DONE,
        "unknown-key",
        6,
        20,
        ("at `buttons[0]`", "Did you mean 'goto'?"),
    ),
    Case(
        "unknown-key-in-ask",
        HEAD
        + "    say: Name?\n    ask:\n      var: name\n      retyr: Again\n    goto: done\n"
        + DONE,
        "unknown-key",
        7,
        7,
        ("at `ask`", "Did you mean 'retry'?"),
    ),
    Case(
        "unknown-key-in-handler",
        HEAD + "    say: Hi\n    on:\n      - txt: hello\n        goto: done\n" + DONE,
        "unknown-key",
        6,
        9,
        ("at `on[0]`", "Did you mean 'text'?"),
    ),
    Case(
        "missing-key-bot-name",
        "bot: {start: a}\nstates:\n  a: {say: Hi, end: true}\n",
        "missing-key",
        1,
        6,
        ("`name` is missing under `bot`",),
    ),
    Case(
        "missing-key-states",
        "bot: {name: T, start: a}\n",
        "missing-key",
        1,
        1,
        ("`states` is missing at the top level",),
    ),
    Case(
        "missing-key-ask-var",
        HEAD + "    say: Age?\n    ask: {type: integer}\n    goto: done\n" + DONE,
        "missing-key",
        5,
        10,
        ("`var` is missing in state 'a' at `ask`",),
    ),
    Case(
        "missing-key-button-text",
        HEAD + "    say: Hi\n    buttons:\n      - {goto: done}\n" + DONE,
        "missing-key",
        6,
        9,
        ("`text` is missing",),
    ),
    Case(
        "wrong-type-yes-for-a-switch",
        HEAD + "    say: Bye\n    end: yes\n",
        "wrong-type",
        5,
        10,
        ("expected true or false in state 'a' at `end`, found the text 'yes'",),
    ),
    Case(
        "wrong-type-text-for-a-list",
        "bot: {name: T, start: a, languages: en}\nstates:\n  a: {say: Hi, end: true}\n",
        "wrong-type",
        1,
        37,
        ("expected a list",),
    ),
    Case(
        "wrong-type-delay-without-unit",
        HEAD + "    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after: {delay: 10, goto: a}\n",
        "wrong-type",
        6,
        20,
        ("has no unit", "10m"),
    ),
    Case(
        "wrong-type-multi-line-text-quoted-on-one-line",
        HEAD + "    say: Bye\n    end: |\n      yes\n",
        "wrong-type",
        6,
        7,
        ("found the text 'yes\\n'",),
    ),
    Case(
        "invalid-value-ask-type",
        HEAD + "    say: How many?\n    ask: {var: n, type: nubmer}\n    goto: done\n" + DONE,
        "invalid-value",
        5,
        25,
        ("write one of: text, number", "Did you mean 'number'?"),
    ),
    Case(
        "invalid-value-parse-mode-case",
        "bot: {name: T, start: a, parse_mode: html}\nstates:\n  a: {say: Hi, end: true}\n",
        "invalid-value",
        1,
        38,
        ("Did you mean 'HTML'?",),
    ),
    Case(
        "invalid-value-language-name",
        "bot: {name: T, start: a, language: English}\nstates:\n  a: {say: Hi, end: true}\n",
        "invalid-value",
        1,
        36,
        ("language code",),
    ),
    Case(
        "invalid-name-state-with-a-space",
        y(
            """
            bot: {name: T, start: a}
            states:
              a: {say: Hi, goto: main}
              main: {say: Menu, goto: main menu}
              main menu: {say: Menu, end: true}
            """
        ),
        "invalid-name",
        5,
        3,
        ("'main menu' is not a valid name under `states`",),
    ),
    Case(
        "invalid-name-variable-starting-with-a-digit",
        "bot: {name: T, start: a}\nvars:\n  2nd_size: null\n" + MINIMAL[25:],
        "invalid-name",
        3,
        3,
        ("Variable names start with a letter",),
    ),
    Case(
        "empty-value-bot-name",
        'bot: {name: "", start: a}\nstates:\n  a: {say: Hi, end: true}\n',
        "empty-value",
        1,
        13,
        ("must not be empty at `bot.name`",),
    ),
    Case(
        "empty-value-action",
        HEAD + "    do: [{}]\n    say: Hi\n    end: true\n",
        "empty-value",
        4,
        10,
    ),
    Case(
        "wrong-length-bot-name",
        "bot: {name: " + "N" * 70 + ", start: a}\nstates:\n  a: {say: Hi, end: true}\n",
        "wrong-length",
        1,
        13,
        ("at most 64 characters", "this has 70"),
    ),
    Case(
        "wrong-count-nine-buttons-in-a-row",
        HEAD
        + "    say: Pick\n    buttons:\n      - ["
        + ", ".join(f"{{text: B{i}, goto: a}}" for i in range(9))
        + "]\n",
        "wrong-count",
        6,
        9,
        ("at most 8 entries", "this has 9"),
    ),
    Case(
        "wrong-count-no-buttons",
        HEAD + "    say: Hi\n    buttons: []\n    end: true\n",
        "wrong-count",
        5,
        14,
        ("at least 1",),
    ),
    Case(
        "out-of-range-latitude",
        HEAD + "    say: {location: {latitude: 100, longitude: 13.4}}\n    end: true\n",
        "out-of-range",
        4,
        32,
        ("100 is out of range", "at most 90"),
    ),
    Case(
        "out-of-range-max-attempts",
        HEAD + "    say: Age?\n    ask: {var: age, max_attempts: 0}\n    goto: done\n" + DONE,
        "out-of-range",
        5,
        35,
        ("at least 1",),
    ),
    # ---- states that do not exist, cannot be reached or cannot be left --------------------
    Case(
        "missing-start-not-written",
        "bot: {name: T}\nstates:\n  a: {say: Hi, end: true}\n",
        "missing-start",
        1,
        6,
        ("like `start: a`",),
    ),
    Case(
        "missing-start-misspelt",
        "bot: {name: T, start: wellcome}\nstates:\n  welcome: {say: Hi, end: true}\n",
        "missing-start",
        1,
        23,
        ("no state 'wellcome' (used as the start state)", "Did you mean 'welcome'?"),
    ),
    Case(
        "unknown-state-goto",
        HEAD + "    say: Hi\n    goto: dnoe\n" + DONE,
        "unknown-state",
        5,
        11,
        ("no state 'dnoe' (used in state 'a' at `goto`)", "Did you mean 'done'?"),
    ),
    Case(
        "unknown-state-button-goto",
        HEAD + "    say: Hi\n    buttons:\n      - {text: Go, goto: dome}\n" + DONE,
        "unknown-state",
        6,
        26,
        ("at `buttons[0].goto`", "Did you mean 'done'?"),
    ),
    Case(
        "unknown-state-handler-goto",
        HEAD
        + "    say: Hi\n    on:\n      - text: bye\n        goto: don\n    goto: done\n"
        + DONE,
        "unknown-state",
        7,
        15,
        ("at `on[0].goto`", "Did you mean 'done'?"),
    ),
    Case(
        "unknown-state-on-fail",
        HEAD
        + "    say: Age?\n    ask: {var: age, type: integer, max_attempts: 2, on_fail: donee}\n"
        + "    goto: done\n"
        + DONE,
        "unknown-state",
        5,
        62,
        ("at `ask.on_fail`", "Did you mean 'done'?"),
    ),
    Case(
        "unknown-state-http-on-error",
        HEAD
        + '    do:\n      - http: {url: "https://shop.example/api", on_error: dnoe}\n'
        + "    goto: done\n"
        + DONE,
        "unknown-state",
        5,
        59,
        ("at `do[0].http.on_error`", "Did you mean 'done'?"),
    ),
    Case(
        "unknown-state-call",
        HEAD + "    call: adress\n    goto: done\n" + DONE + "  address:\n    say: Where?\n"
        "    return: true\n",
        "unknown-state",
        4,
        11,
        ("at `call`", "Did you mean 'address'?"),
    ),
    Case(
        "unknown-state-timer-goto",
        HEAD
        + "    say: Hi\n    buttons: [{text: Go, goto: done}]\n    after: {delay: 10m, goto: dnoe}\n"
        + DONE,
        "unknown-state",
        6,
        31,
        ("at `after.goto`", "Did you mean 'done'?"),
    ),
    Case(
        "unknown-state-command-goto",
        y(
            """
            bot: {name: T, start: a}
            commands:
              help: {description: Help, goto: hlep}
            states:
              a: {say: Hi, end: true}
              help: {say: Tap a button., end: true}
            """
        ),
        "unknown-state",
        3,
        35,
        ("in command /help at `goto`", "Did you mean 'help'?"),
    ),
    Case(
        "unknown-state-fallback-goto",
        y(
            """
            bot: {name: T, start: start}
            fallback: {say: What?, goto: strat}
            states:
              start: {say: Hi, end: true}
            """
        ),
        "unknown-state",
        2,
        30,
        ("at `fallback.goto`", "Did you mean 'start'?"),
    ),
    Case(
        "unknown-state-conditional-goto-to",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: How many?
                ask: {var: n, type: integer}
                goto:
                  - if: n > 10
                    to: bigg
                  - to: done
              big: {say: Wow, end: true}
              done: {say: Bye, end: true}
            """
        ),
        "unknown-state",
        8,
        13,
        ("at `goto[0].to`", "Did you mean 'big'?"),
    ),
    Case(
        "unknown-state-migration-target",
        y(
            """
            bot: {name: T, start: a}
            migrations:
              old_menu: mnu
            states:
              a: {say: Hi, goto: menu}
              menu: {say: Menu, end: true}
            """
        ),
        "unknown-state",
        3,
        13,
        ("used as a migration target", "Did you mean 'menu'?"),
    ),
    Case(
        "unknown-state-without-a-near-name",
        HEAD + "    say: Hi\n    goto: checkout\n" + DONE,
        "unknown-state",
        5,
        11,
        ("Add it under `states:`, or use one of: a, done.",),
    ),
    Case(
        "unreachable-state",
        MINIMAL + "  lonely:\n    say: Nobody comes here\n    end: true\n",
        "unreachable-state",
        6,
        3,
        ("state 'lonely' cannot be reached from the start state 'a'",),
    ),
    Case(
        "dead-end-no-way-out",
        HEAD + "    say: Hi\n",
        "dead-end",
        3,
        3,
        ("state 'a' has no way out",),
    ),
    Case(
        "dead-end-ask-without-goto",
        HEAD + "    say: Your name?\n    ask: {var: name}\n",
        "dead-end",
        3,
        3,
        ("asks for `name` but has no `goto`",),
    ),
    Case(
        "loop-without-input",
        HEAD + "    say: Hi\n    goto: b\n  b:\n    say: Ho\n    goto: a\n",
        "loop-without-input",
        3,
        3,
        ("states a → b → a pass the user on without waiting",),
    ),
    Case(
        "loop-without-input-to-itself",
        HEAD + "    set: {count: '{{ count + 1 }}'}\n    goto: a\n",
        "loop-without-input",
        3,
        3,
        ("a → a",),
    ),
    Case(
        "migration-never-used",
        y(
            """
            bot: {name: T, start: a}
            migrations:
              a: done
            states:
              a: {say: Hi, goto: done}
              done: {say: Bye, end: true}
            """
        ),
        "migration-never-used",
        3,
        3,
        ("state 'a' still exists",),
    ),
    Case(
        "unreachable-branch",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: How many?
                ask: {var: n, type: integer}
                goto:
                  - to: done
                  - if: n > 10
                    to: done
              done: {say: Bye, end: true}
            """
        ),
        "unreachable-branch",
        8,
        9,
        ("Put the branch without `if` last",),
    ),
    Case(
        "unreachable-handler",
        HEAD
        + "    say: Hi\n    on:\n      - say: I hear you\n      - text: bye\n        goto: done\n"
        "    goto: done\n" + DONE,
        "unreachable-handler",
        7,
        9,
        ("Move the catch-all handler last",),
    ),
    # ---- templates and conditions ---------------------------------------------------------
    Case(
        "template-syntax-unclosed-braces",
        HEAD + "    say: Hi {{ user.first_name }\n    end: true\n",
        "template-syntax",
        4,
        10,
        ("Every '{{' needs a matching '}}'",),
    ),
    Case(
        "template-syntax-single-equals",
        HEAD + '    say: "{% if user.id = 1 %}Boss{% endif %}"\n    end: true\n',
        "template-syntax",
        4,
        10,
        ("To compare two values, write '=='",),
    ),
    Case(
        "markdown-unescaped-reserved-characters",
        "bot: {name: T, start: a, parse_mode: MarkdownV2}\nstates:\n  a:\n"
        "    say: '*Price*: {{ 5 }}.00 (today)!'\n    end: true\n",
        "markdown-unescaped",
        4,
        10,
        ("Write: *Price*: {{ 5 }}\\.00 \\(today\\)\\!", "`.` `(` `)` `!`"),
    ),
    Case(
        "template-syntax-third-line-of-a-literal-block",
        y(
            """
            bot: {name: T, start: a}
            states:
              a:
                say: |
                  Your order:
                  {{ 2 }} pizzas
                  {% if %}with cheese{% endif %}
                  Thanks!
                end: true
            """
        ),
        "template-syntax",
        7,
        1,
        ("Expected an expression",),
    ),
    Case(
        "template-syntax-first-line-of-a-literal-block",
        HEAD + "    say: |\n      Total: {{ 2 * }}\n      Thanks!\n    end: true\n",
        "template-syntax",
        5,
        7,
    ),
    Case(
        "template-syntax-in-a-condition",
        HEAD + "    say: {text: Hi, if: user.id >}\n    end: true\n",
        "template-syntax",
        4,
        25,
        ("this condition in state 'a' at `say.if` is not valid",),
    ),
    Case(
        "condition-braces",
        HEAD + '    say:\n      - text: Hi\n        if: "{{ user.id > 1 }}"\n    end: true\n',
        "condition-braces",
        6,
        13,
        ("write `if: user.id > 1`",),
    ),
    Case(
        "undefined-variable-typo",
        "bot: {name: T, start: a}\nvars: {count: 0}\nstates:\n  a:\n"
        "    say: You have {{ cuont }} points\n    end: true\n",
        "undefined-variable",
        5,
        10,
        ("uses 'cuont', which is not defined", "Did you mean 'count'?"),
    ),
    Case(
        "unknown-field-of-user",  # issue 16: passed --validate, replaced the message at run time
        "bot: {name: T, start: a}\nstates:\n  a:\n"
        "    say: Hello {{ user.firstname }}!\n    end: true\n",
        "unknown-field",
        4,
        10,
        ("uses 'user.firstname', which does not exist", "Did you mean 'first_name'?"),
    ),
    Case(
        "unknown-field-of-message-in-a-condition",
        "bot: {name: T, start: a}\nstates:\n  a:\n"
        "    say: {text: Hi, if: \"message['comand'] == 'x'\"}\n    end: true\n",
        "unknown-field",
        4,
        25,
        ("uses 'message.comand'", "Did you mean 'command'?"),
    ),
    Case(
        "undefined-variable-in-a-condition",
        "bot: {name: T, start: a}\nvars: {count: 0}\nstates:\n  a:\n"
        "    say: {text: Hi, if: conut > 1}\n    end: true\n",
        "undefined-variable",
        5,
        25,
        ("the condition in state 'a' at `say.if` uses 'conut'", "Did you mean 'count'?"),
    ),
    Case(
        "undefined-variable-in-a-literal-block",  # at its own line (issue 16), not the first
        HEAD + "    say: |\n      Hello!\n      You ordered {{ pizza_size }}.\n    end: true\n",
        "undefined-variable",
        6,
        7,
        ("Declare it under `vars:`",),
    ),
    Case(
        "unknown-filter",
        HEAD + "    say: Ready in {{ 30 | minuts }}\n    end: true\n",
        "unknown-filter",
        4,
        10,
        ("the filter 'minuts'", "Did you mean 'minutes'?"),
    ),
    Case(
        "unknown-filter-test",
        HEAD + '    say: "{% if user.id is od %}odd{% endif %}"\n    end: true\n',
        "unknown-filter",
        4,
        10,
        ("the test 'od'", "Did you mean 'odd'?"),
    ),
    Case(
        "text-too-long-say",
        HEAD + "    say: " + "x" * 4097 + "\n    end: true\n",
        "text-too-long",
        4,
        10,
        ("4097 characters", "Telegram allows 4096"),
    ),
    Case(
        "text-too-long-caption",
        HEAD
        + "    say:\n      photo: https://shop.example/menu.jpg\n      caption: "
        + "x" * 1025
        + "\n    end: true\n",
        "text-too-long",
        6,
        16,
        ("1025 characters", "allows 1024 in captions"),
    ),
    # ---- values checked against Telegram's and the language's rules -----------------------
    Case(
        "invalid-regex-unclosed-group",
        HEAD + '    say: Hi\n    on:\n      - match: "order (\\\\d+"\n        goto: a\n',
        "invalid-regex",
        6,
        16,
        ("in state 'a' at `on[0].match` is not a valid regular expression", "missing )"),
    ),
    Case(
        "invalid-regex-lone-paren",
        HEAD + '    say: Hi\n    on:\n      - match: "("\n        goto: a\n',
        "invalid-regex",
        6,
        16,
    ),
    Case(
        "invalid-regex-overflowing-repeat",
        HEAD + '    say: Code?\n    ask: {var: code, pattern: "a{4294967295}"}\n    goto: done\n'
        "" + DONE,
        "invalid-regex",
        5,
        31,
        ("at `ask.pattern` is not a valid regular expression",),
    ),
    Case(
        "button-data-too-long",
        "bot: {name: T, start: "
        + "s" * 60
        + "}\nstates:\n  "
        + "s" * 60
        + ":\n    say: Hi\n    buttons: [{text: Go, goto: done}]\n"
        + DONE,
        "button-data-too-long",
        3,
        3,
        ("Telegram allows 64", "Shorten the state's name"),
    ),
    Case(
        "invalid-command-name-uppercase",
        "bot: {name: T, start: a}\ncommands:\n  Help: {description: Help, say: Hi}\n"
        + MINIMAL[25:],
        "invalid-command-name",
        3,
        3,
        ("Write 'help'",),
    ),
    Case(
        "invalid-command-name-leading-slash",
        "bot: {name: T, start: a}\ncommands:\n  /help: {description: Help, say: Hi}\n"
        + MINIMAL[25:],
        "invalid-command-name",
        3,
        3,
        ("leave out the slash", "Write 'help'"),
    ),
    Case(
        "invalid-command-name-too-long",
        "bot: {name: T, start: a}\ncommands:\n  "
        + "x" * 33
        + ": {description: Help, say: Hi}\n"
        + MINIMAL[25:],
        "invalid-command-name",
        3,
        3,
        ("1-32 characters",),
    ),
    Case(
        "invalid-command-name-in-a-handler",
        HEAD + "    say: Hi\n    on:\n      - command: Help\n        say: Tap a button.\n"
        "    end: true\n",
        "invalid-command-name",
        6,
        18,
        ("Write 'help'",),
    ),
    Case(
        "duplicate-button-inline",
        HEAD
        + "    say: Sure?\n    buttons:\n      - [{text: Yes, goto: done}, {text: yes , goto: a}]\n"
        "" + DONE,
        "duplicate-button",
        6,
        42,
        ("the button 'yes' appears twice",),
    ),
    Case(
        "duplicate-button-reply-keyboard",
        HEAD + "    say: Colour?\n    keyboard:\n      - [Red, Blue]\n      - Red\n    end: true\n",
        "duplicate-button",
        7,
        9,
        ("the key 'Red' appears twice",),
    ),
    Case(
        "duplicate-choice",
        HEAD
        + "    say: Colour?\n    ask: {var: colour, choices: [Red, Blue, red]}\n    goto: done\n"
        "" + DONE,
        "duplicate-choice",
        5,
        45,
        ("the choice 'red' appears twice",),
    ),
    Case(
        "choices-type",
        HEAD
        + "    say: Colour?\n    ask: {var: colour, type: text, choices: [Red, Blue]}\n"
        + "    goto: done\n"
        + DONE,
        "choices-type",
        5,
        30,
        ("`choices` cannot be used with `type: text`",),
    ),
    Case(
        "ask-option-unused-min-on-text",
        HEAD + "    say: Name?\n    ask: {var: name, type: text, min: 3}\n    goto: done\n" + DONE,
        "ask-option-unused",
        5,
        34,
        ("`min` has no effect for `type: text`",),
    ),
    Case(
        "ask-option-unused-skip-text-without-optional",
        HEAD + "    say: Note?\n    ask: {var: note, skip_text: Skip}\n    goto: done\n" + DONE,
        "ask-option-unused",
        5,
        22,
        ("unless `optional: true`",),
    ),
    Case(
        "ask-option-unused-on-fail-without-max-attempts",
        HEAD + "    say: Age?\n    ask: {var: age, type: integer, on_fail: done}\n    goto: done\n"
        "" + DONE,
        "ask-option-unused",
        5,
        36,
        ("add `max_attempts`",),
    ),
    Case(
        "ask-range-min-above-max",
        HEAD
        + "    say: Age?\n    ask: {var: age, type: integer, min: 99, max: 18}\n    goto: done\n"
        "" + DONE,
        "ask-range",
        5,
        41,
        ("`min` (99) is larger than `max` (18)",),
    ),
    Case(
        "ask-bound-misspelt-date",  # issue 16: the check was silently off
        HEAD + "    say: When?\n    ask: {var: day, type: date, min: tomorow}\n    goto: done\n"
        "" + DONE,
        "ask-bound",
        5,
        38,
        ("`min: tomorow`", "Write `today` or a date as YYYY-MM-DD"),
    ),
    Case(
        "ask-bound-quoted-number",
        HEAD + '    say: Age?\n    ask: {var: age, type: integer, max: "99"}\n    goto: done\n'
        "" + DONE,
        "ask-bound",
        5,
        41,
        ("`max: 99`", "write it without quotes"),
    ),
    Case(
        "ask-range-dates",
        HEAD + "    say: When?\n    ask: {var: day, type: date, min: 2027-02-01, max: 2027-01-01}\n"
        "    goto: done\n" + DONE,
        "ask-range",
        5,
        38,
        ("`min` (2027-02-01) is larger than `max` (2027-01-01)",),
    ),
    Case(
        "set-and-clear-one-variable",  # issue 16: the clear runs last, the set is lost
        "bot: {name: T, start: a}\nvars: {n: 1}\nstates:\n  a:\n"
        "    set: {n: 5}\n    clear: [n]\n    say: Hi\n    end: true\n",
        "set-and-clear",
        5,
        11,
        ("`n` is set and cleared in state 'a'", "Remove one of them"),
    ),
    Case(
        "set-text-template",  # issue 16: a {% %} value is text, never a number
        "bot: {name: T, start: a}\nvars: {n: 1, size: 0}\nstates:\n  a:\n"
        '    set: {size: "{% if n > 0 %}5{% else %}0{% endif %}"}\n    say: Hi\n    end: true\n',
        "set-text-template",
        5,
        17,
        ("uses `{% %}`: it is stored as text", "{{ 5 if n > 0 else 0 }}"),
    ),
    Case(
        "ask-range-length",
        HEAD
        + "    say: Code?\n    ask: {var: code, min_length: 8, max_length: 4}\n    goto: done\n"
        "" + DONE,
        "ask-range",
        5,
        34,
        ("`min_length` (8) is larger than `max_length` (4)",),
    ),
    Case(
        "invalid-duration-no-unit",
        HEAD
        + '    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after: {delay: "10", goto: a}\n',
        "invalid-duration",
        6,
        20,
        ("'10' has no unit", "10m"),
    ),
    Case(
        "invalid-duration-unknown-unit",
        HEAD
        + "    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after: {delay: 3 months, goto: a}\n",
        "invalid-duration",
        6,
        20,
        ("'3 months' is not a duration",),
    ),
    Case(
        "invalid-duration-zero",
        HEAD + "    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after: {delay: 0m, goto: a}\n",
        "invalid-duration",
        6,
        20,
        ("not a positive duration",),
    ),
    Case(
        "invalid-duration-clock-time",
        HEAD
        + "    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after: {delay: 1:30, goto: a}\n",
        "invalid-duration",
        6,
        20,
        ("'1:30' is not a duration",),
    ),
    Case(
        "invalid-duration-in-a-list-of-timers",
        HEAD
        + "    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after:\n"
        + "      - {delay: 10m, say: Still there?}\n      - {delay: 2 hourz, goto: a}\n",
        "invalid-duration",
        8,
        17,
        ("at `after[1].delay`",),
    ),
    Case(
        "invalid-url",
        HEAD + "    say: Hi\n    buttons:\n      - {text: Our site, url: www.shop.example}\n"
        "    end: true\n",
        "invalid-url",
        6,
        31,
        ("must start with https://",),
    ),
    Case(
        "url-button-action",
        HEAD
        + '    say: Hi\n    buttons:\n      - {text: Site, url: "https://shop.example", goto: a}\n'
        "    end: true\n",
        "url-button-action",
        6,
        9,
        ("its `goto` never runs",),
    ),
    Case(
        "button-does-nothing",
        HEAD + "    say: Hi\n    buttons:\n      - {text: Nothing happens}\n    end: true\n",
        "button-does-nothing",
        6,
        9,
        ("add `goto`, `set`, `say`, `call` or `return`",),
    ),
    Case(
        "button-in-notice",
        HEAD
        + "    say: Hi\n"
        + "    do:\n"
        + "      - notify:\n"
        + "          to: admins\n"
        + "          say: {text: New order, buttons: [{text: Accept, goto: a}]}\n"
        + "    end: true\n",
        "button-in-notice",
        8,
        44,
        ("notice to admins", "a command to send instead"),
    ),
    Case(
        "start-only",
        HEAD + "    only: admin\n    say: Hi\n    end: true\n",
        "start-only",
        4,
        11,
        ("Remove `only:` here",),
    ),
    Case(
        "reserved-name-in-vars",
        "bot: {name: T, start: a}\nvars:\n  user: null\n" + MINIMAL[25:],
        "reserved-name",
        3,
        3,
        ("'user' is a built-in name", "my_user"),
    ),
    Case(
        "reserved-name-in-ask",
        HEAD + "    say: Say something\n    ask: {var: message}\n    goto: done\n" + DONE,
        "reserved-name",
        5,
        16,
        ("'message' is a built-in name",),
    ),
    Case(
        "unknown-variable-clear",
        "bot: {name: T, start: a}\nvars: {size: null}\nstates:\n  a:\n    clear: [szie]\n"
        "    say: Hi\n    end: true\n",
        "unknown-variable",
        5,
        13,
        ("no variable 'szie' to clear", "Did you mean 'size'?"),
    ),
    Case(
        "unknown-variable-sensitive",
        "bot: {name: T, start: a}\nvars: {phone: null}\nsensitive: [phnoe]\n" + MINIMAL[25:],
        "unknown-variable",
        3,
        13,
        ("no variable 'phnoe' to mark as sensitive", "Did you mean 'phone'?"),
    ),
    Case(
        "duplicate-item-sensitive",
        "bot: {name: T, start: a}\nvars: {phone: null}\nsensitive: [phone, phone]\n" + MINIMAL[25:],
        "duplicate-item",
        3,
        20,
        ("the variable 'phone' is listed twice",),
    ),
    Case(
        "duplicate-item-languages",
        "bot: {name: T, start: a, languages: [en, de, en]}\nstates:\n  a: {say: Hi, end: true}\n",
        "duplicate-item",
        1,
        46,
        ("the language 'en' is listed twice",),
    ),
    # ---- scenarios split across files -----------------------------------------------------
    Case(
        "include-not-found",
        "bot: {name: T, start: a}\ninclude: [support.yaml, suport_faq.yaml]\n" + MINIMAL[25:],
        "include-not-found",
        2,
        25,
        ("suport_faq.yaml' does not exist",),
        files={"support.yaml": "states:\n  help: {say: Help, goto: a}\n"},
    ),
    Case(
        "include-cycle",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n" + MINIMAL[25:],
        "include-cycle",
        1,
        11,
        ("main.yaml' includes itself",),
        files={"part.yaml": "include: [main.yaml]\nstates:\n  b: {say: B, goto: a}\n"},
        where="part.yaml",
    ),
    Case(
        "include-cycle-of-itself",
        "bot: {name: T, start: a}\ninclude: [main.yaml]\n" + MINIMAL[25:],
        "include-cycle",
        2,
        11,
    ),
    Case(
        "include-key",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n" + MINIMAL[25:],
        "include-key",
        1,
        1,
        ("move `bot:` to the main scenario file",),
        files={"part.yaml": "bot: {name: Part}\nstates:\n  b: {say: B, goto: a}\n"},
        where="part.yaml",
    ),
    Case(
        "duplicate-state-across-an-include",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n" + MINIMAL[25:],
        "duplicate-state",
        3,
        3,
        ("the state 'a' is already defined at", "main.yaml:4:3"),
        files={"part.yaml": "states:\n  b: {say: B, goto: a}\n  a: {say: Again, end: true}\n"},
        where="part.yaml",
    ),
    Case(
        "duplicate-variable-across-an-include",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\nvars: {size: null}\n" + MINIMAL[25:],
        "duplicate-variable",
        1,
        8,
        ("the variable 'size' is already defined at",),
        files={"part.yaml": "vars: {size: 1}\n"},
        where="part.yaml",
    ),
    Case(
        "duplicate-command-across-an-include",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n"
        "commands:\n  help: {description: Help, say: Hi}\n" + MINIMAL[25:],
        "duplicate-command",
        2,
        3,
        ("the command 'help' is already defined at",),
        files={"part.yaml": "commands:\n  help: {description: Help, say: Ho}\n"},
        where="part.yaml",
    ),
    Case(
        "mistake-inside-an-included-file",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n" + MINIMAL[25:],
        "unknown-key",
        3,
        5,
        ("Did you mean 'say'?",),
        files={"part.yaml": "states:\n  b:\n    sya: B\n    goto: a\n"},
        where="part.yaml",
    ),
    Case(
        "not-a-mapping-included-file",
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n" + MINIMAL[25:],
        "not-a-mapping",
        1,
        1,
        ("an included file must be a mapping",),
        files={"part.yaml": "- b: {say: B}\n"},
        where="part.yaml",
    ),
    Case(
        "include-outside-the-folder",
        "bot: {name: T, start: a}\ninclude: [../shared/part.yaml]\n" + MINIMAL[25:],
        "include-outside",
        2,
        11,
        ("is outside the scenario's folder", "move the file there", "like 'part.yaml'"),
    ),
    Case(
        "include-not-a-file",
        "bot: {name: T, start: a}\ninclude: [parts]\n" + MINIMAL[25:],
        "include-not-a-file",
        2,
        11,
        ("'parts' is a folder, not a file", "include YAML files only"),
        files={"parts/b.yaml": "states:\n  b: {say: B, goto: a}\n"},
    ),
    # ---- local media files ------------------------------------------------------------------
    Case(
        "media-not-found",
        HEAD + "    say: {photo: media/menu.jpeg}\n    end: true\n",
        "media-not-found",
        4,
        18,
        ("there is no media file media/menu.jpeg", "relative to the scenario's folder"),
        files={"media/menu.jpg": "a picture"},
    ),
    Case(
        "media-outside-the-folder",
        HEAD + "    say: {photo: ../menu.jpg}\n    end: true\n",
        "media-outside",
        4,
        18,
        ("is outside the media folder", "copy the file into"),
    ),
    Case(
        "media-refused-plugins-file",
        HEAD + "    say: {document: main_plugins.py}\n    end: true\n",
        "media-refused",
        4,
        21,
        ("is a .py file, not a media file", "web address"),
        files={"main_plugins.py": "SECRET = 1\n"},
    ),
    Case(
        "media-too-large-photo",
        HEAD + "    say: {photo: big.jpg}\n    end: true\n",
        "media-too-large",
        4,
        18,
        ("at most 10 MB for a photo", "make it smaller"),
        files={"big.jpg": "x" * (10 * 1024 * 1024 + 1)},
    ),
    # ---- translations --------------------------------------------------------------------------
    Case(
        "unknown-language-in-set-language",
        y(
            """
            bot: {name: T, language: en, languages: [en, de], start: a}
            states:
              a:
                say: Hi
                do:
                  - set_language: DE
                end: true
            """
        ),
        "unknown-language",
        6,
        23,
        ("not one of the bot's languages (en, de)", "Did you mean 'de'?"),
    ),
    Case(
        "language-code-with-a-hyphen",
        "bot: {name: T, language: en, languages: [en, pt-BR], start: a}\n" + MINIMAL[25:],
        "invalid-value",
        1,
        46,
        ("'pt-BR' is not valid", "pt_BR", "after `_`"),
    ),
    Case(
        "top-level-catch-all-before-questions",
        "bot: {name: T, start: a}\non:\n  - {type: text, say: Use the buttons.}\nstates:\n"
        "  a:\n    say: Name?\n    ask: {var: name, type: text}\n    goto: done\n" + DONE,
        "answers-taken",
        3,
        5,
        ("the answers to 'a' would never be read", "write it as `fallback:`"),
    ),
    # ---- issue 16: keyboards (buttons from a list, reply keyboard options) ------------------
    Case(
        "keyboard-options-without-a-keyboard",
        HEAD + "    say: Hi\n    keyboard_options: {one_time: true}\n    end: true\n",
        "keyboard-options-unused",
        5,
        5,
        ("no reply keyboard is shown there", "Give it a `keyboard`"),
    ),
    Case(
        "button-list-inside-a-row",
        LIST + '      - [{list: products, text: "{{ item }}", save_as: p, goto: a}]\n',
        "unknown-key",
        7,
        11,
        ("`list:` is not allowed", "a row of their own in a state's `buttons`"),
    ),
    Case(
        "button-list-without-save-as",
        LIST + '      - {list: products, text: "{{ item }}", goto: a}\n',
        "missing-key",
        7,
        9,
        ("`save_as` is missing", "receives the pressed entry's value"),
    ),
    Case(
        "button-list-in-braces",
        LIST + '      - {list: "{{ products }}", text: "{{ item }}", save_as: p, goto: a}\n',
        "condition-braces",
        7,
        16,
        ("write `list: products`",),
    ),
    Case(
        "button-list-of-an-unknown-variable",
        LIST + '      - {list: prodcts, text: "{{ item }}", save_as: p, goto: a}\n',
        "undefined-variable",
        7,
        16,
        ("'prodcts'", "Did you mean 'products'?"),
    ),
    # ---- issue 17: roles granted in the database -----------------------------------------
    Case(
        "role-never-granted",
        "bot: {name: T, start: a}\nroles: [staff]\nstates:\n  a:\n    say: Hi\n    goto: b\n"
        "  b:\n    only: [stuff]\n    say: Staff only\n    end: true\n",
        "role-never-granted",
        8,
        12,
        ("nothing can grant the role 'stuff'", "Did you mean 'staff'?", "--grant USER_ID stuff"),
    ),
    Case(
        "unknown-message",
        "bot: {name: T, start: a}\nmessages: {closed_monday: Closed}\nstates:\n  a:\n"
        "    say: Hi\n    on:\n      - do: [{broadcast: {message: closed_mondy}}]\n"
        "        say: Queued.\n",
        "unknown-message",
        7,
        36,
        ("there is no message 'closed_mondy' under `messages:`", "Did you mean 'closed_monday'?"),
    ),
    # ---- issue 17: feature flags --------------------------------------------------------
    Case(
        "undeclared-flag",
        "bot: {name: T, start: a}\nflags: {new_menu: false}\nstates:\n  a:\n    say:\n"
        "      - text: New\n        if: flags.new_manu\n    end: true\n",
        "undeclared-flag",
        7,
        13,
        ("uses 'flags.new_manu', which is not declared under `flags:`", "Did you mean 'new_menu'?"),
    ),
    Case(
        "undeclared-flag-without-flags",
        HEAD + '    say: "{{ flags.beta }}"\n    end: true\n',
        "undeclared-flag",
        4,
        10,
        ("'flags.beta'", "`flags: {beta: false}`"),
    ),
]


def _write_case(case: Case, write_file: WriteFile) -> Path:
    for name, text in case.files.items():
        write_file(text, name)
    return write_file(case.text)


def _describe(report: ValidationReport) -> str:
    return "\n".join(d.format() for d in report.diagnostics) or "(no diagnostics)"


def test_the_cases_are_distinct() -> None:
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.text, tuple(sorted(c.files.items()))) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_mistake_is_reported_where_it_is(case: Case, write_file: WriteFile) -> None:
    path = _write_case(case, write_file)
    report = validate_file(str(path))
    expected_file = str(path.parent / case.where)
    found = [
        d
        for d in report.diagnostics
        if d.code == case.code
        and (d.position.line, d.position.column) == (case.line, case.column)
        and d.position.file == expected_file
    ]
    assert found, (
        f"expected [{case.code}] at {case.where}:{case.line}:{case.column}, got:\n"
        + _describe(report)
    )
    diagnostic = found[0]
    for any_diagnostic in report.diagnostics:  # one problem, one line of output
        assert "\n" not in any_diagnostic.format(), any_diagnostic
    for part in case.contains:
        assert part in diagnostic.message, f"{part!r} not in: {diagnostic.message}"
    if case.code in WARNING_CODES:
        assert not diagnostic.is_error
    else:
        assert diagnostic.is_error
        assert report.errors > 0


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    report = validate_file(str(tmp_path / "nowhere.yaml"))
    assert [(d.code, d.position.line) for d in report.diagnostics] == [("file-not-found", 0)]
    assert report.errors == 1


def test_a_folder_is_not_a_scenario(tmp_path: Path) -> None:
    report = validate_file(str(tmp_path))
    assert [d.code for d in report.diagnostics] == ["file-not-found"]
    assert "folder" in report.diagnostics[0].message


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    # Running as root, permissions do not stop reading; a name longer than the system allows does.
    report = validate_file(str(tmp_path / ("x" * 300 + ".yaml")))
    assert [d.code for d in report.diagnostics] == ["file-unreadable"]
    assert report.diagnostics[0].message.startswith("cannot read the file")


SEVERAL_MISTAKES = y(
    """
    bot: {name: T, start: welcome, langauge: en}
    vars: {count: 0}
    states:
      welcome:
        say: Hi {{ cuont }}!
        buttons:
          - {text: Order, goto: ordr}
          - {text: Order, goto: menu}
      menu:
        say: Menu
      forgotten:
        say: Nobody comes here
        end: true
    """
)


def test_every_mistake_in_a_file_is_reported_errors_first(write_file: WriteFile) -> None:
    report = validate_file(str(write_file(SEVERAL_MISTAKES)))
    found = {(d.code, d.position.line, d.position.column) for d in report.diagnostics}
    assert {
        ("unknown-key", 1, 32),
        ("undefined-variable", 5, 10),
        ("unknown-state", 7, 29),
        ("duplicate-button", 8, 16),
        ("dead-end", 9, 3),
        ("unreachable-state", 11, 3),
    } <= found, _describe(report)
    assert report.errors >= 4 and report.warnings >= 2
    severities = [d.is_error for d in report.diagnostics]
    assert severities == sorted(severities, reverse=True), "errors must come before warnings"


def test_errors_come_before_warnings_across_files(write_file: WriteFile) -> None:
    write_file("states:\n  b:\n    say: B\n", "part.yaml")  # a dead end: a warning, first file
    main = write_file(
        "bot: {name: T, start: a}\ninclude: [part.yaml]\nstates:\n  a: {say: Hi, goto: b}\n"
        "  c: {say: C, goto: nowhere}\n"
    )
    report = validate_file(str(main))
    kinds = [(d.is_error, d.code) for d in report.diagnostics]
    assert (True, "unknown-state") in kinds and (False, "dead-end") in kinds
    assert [k for k, _ in kinds] == sorted((k for k, _ in kinds), reverse=True)


# ---- every code the engine can emit has a case above ----------------------------------------

# The generic schema code is a fallback for JSON Schema keywords the published schema does
# not use (every keyword it does use has its own code); file-not-found and file-unreadable are
# covered by the tests above.
NOT_IN_THE_TABLE = {"schema", "file-not-found", "file-unreadable"}


# about a file given by mistake, not a mistake in one: tested where the file is given
# (tests/test_cli.py: --validate given a tests file)
NOT_A_SCENARIOS_MISTAKE = {"tests-file"}


def test_every_code_the_engine_emits_has_a_case() -> None:
    emitted = emitted_codes()
    assert len(emitted) > 40, sorted(emitted)
    covered = {c.code for c in CASES}
    missing = sorted(
        code
        for code in emitted - NOT_IN_THE_TABLE - NOT_A_SCENARIOS_MISTAKE
        if not any(fnmatch.fnmatchcase(c, code) for c in covered)
    )
    assert not missing, f"codes without a broken-scenario case: {missing}"
    unknown = sorted(c for c in covered if not any(fnmatch.fnmatchcase(c, e) for e in emitted))
    assert not unknown, f"cases expect codes the engine never emits: {unknown}"


# ---- every code is explained in the reference -----------------------------------------------


def _documented_codes() -> dict[str, str]:
    """The rows of the codes table in docs/scenario-language.md: code -> its row."""
    text = (ROOT / "docs" / "scenario-language.md").read_text(encoding="utf-8")
    table = text.split("### The codes")[1].split("\n---")[0]
    rows: dict[str, str] = {}
    for row in table.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            for code in re.findall(r"`([a-z0-9-]+)`", first_cell):
                rows[code] = row
    return rows


def test_every_code_is_explained_in_the_reference() -> None:
    documented = _documented_codes()
    emitted = emitted_codes("scenario") | emitted_codes("i18n")
    for code in emitted:
        matching = [d for d in documented if fnmatch.fnmatchcase(d, code)]
        assert matching, f"[{code}] is not in the table of docs/scenario-language.md"
    for code, row in documented.items():
        assert any(fnmatch.fnmatchcase(code, e) for e in emitted), f"{code} is never emitted"
        is_warning = "**W**" in row
        expected_warning = code in WARNING_CODES or code in (
            "catalog-missing",
            "translation-incomplete",
        )
        assert is_warning == expected_warning, f"{code}: marked {'W' if is_warning else 'E'}"


def test_messages_end_with_one_full_stop(write_file: WriteFile) -> None:
    """Jinja's own messages may end with a period; the sentence around them adds another."""
    path = write_file(HEAD + '    say: "Hi {{ user.first_name "\n    end: true\n')
    (diagnostic,) = validate_file(str(path)).diagnostics
    assert diagnostic.code == "template-syntax"
    assert not diagnostic.message.endswith(".."), diagnostic.message


def test_a_hub_whose_handlers_answer_without_leaving_is_no_dead_end(
    write_file: WriteFile,
) -> None:
    """A menu that answers questions and stays (issue 16: such bots failed --strict)."""
    hub = """\
bot: {name: Help desk, start: desk}
states:
  desk:
    say: Ask me about opening hours or prices.
    buttons: [{text: Hours, say: We open at 9.}]
    on:
      - {text: prices, say: Everything costs 5 euros.}
"""
    report = validate_file(str(write_file(hub)))
    assert [d.code for d in report.diagnostics] == [], _describe(report)


def test_a_null_filter_is_not_reported_where_it_is_guarded(write_file: WriteFile) -> None:
    """Of the skipped-answer case, only the unguarded use is reported: the message with
    `if: tip`, the `{% if tip %}` block and `default(0)` are guarded."""
    case = next(c for c in CASES if c.id == "null-filter-skipped-answer")
    report = validate_file(str(_write_case(case, write_file)))
    found = [
        (d.position.line, d.position.column) for d in report.diagnostics if d.code == "null-filter"
    ]
    assert found == [(10, 9)], _describe(report)


def test_a_delay_without_a_unit_is_reported_once(write_file: WriteFile) -> None:
    """`delay: 30` (a number) was reported twice at the same place: by the schema check and
    again as an invalid duration (issue 16)."""
    text = (
        HEAD + "    say: Hi\n    buttons: [{text: Go, goto: a}]\n    after: {delay: 30, goto: a}\n"
    )
    report = validate_file(str(write_file(text)))
    assert [(d.code, d.position.line) for d in report.diagnostics] == [("wrong-type", 6)]
    assert "write it like 30s, 30m or 30h" in report.diagnostics[0].message


def test_the_loop_variable_of_a_for_is_defined(write_file: WriteFile) -> None:
    """`loop.index` inside `{% for %}` is Jinja's own name (it was reported as an undefined
    variable); outside a loop it is still a name the author has to define."""
    looped = HEAD + (
        "    say: \"{% for item in ['a', 'b'] %}{{ loop.index }}. {{ item }} {% endfor %}\"\n"
        "    end: true\n"
    )
    report = validate_file(str(write_file(looped)))
    assert [d.code for d in report.diagnostics] == [], _describe(report)
    alone = HEAD + "    say: Item {{ loop.index }}\n    end: true\n"
    report = validate_file(str(write_file(alone, "alone.yaml")))
    assert [(d.code, d.position.line) for d in report.diagnostics] == [("undefined-variable", 4)]
