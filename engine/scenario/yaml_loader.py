"""Reading YAML the way scenario authors expect: YAML 1.2 values, positions for every node,
duplicate keys reported, and hostile files refused quickly, before anything expensive runs."""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.ops.files import FileTooLarge, NotARegularFile, read_regular_file
from engine.scenario.diagnostics import Diagnostic, Position, error
from engine.scenario.yaml_explanations import (
    comma_in_braces,
    explain,
    text_ending_with_colon,
    unquoted_braces,
)

Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_CORE + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _CORE + "seq", _CORE + "map"


@dataclass(frozen=True)
class LoaderLimits:
    """Caps applied before schema validation, so hostile files fail in milliseconds."""

    max_bytes: int = 2_000_000
    max_depth: int = 50
    max_nodes: int = 200_000  # counted after alias expansion
    max_items: int = 10_000  # entries in one list or mapping


DEFAULT_LIMITS = LoaderLimits()


@dataclass(frozen=True)
class SourceMap:
    """Where each value (and each mapping key) was written, by its path in the data."""

    file: str
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def of(self, path: Path) -> Position:
        """Position of the value at `path`, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(self.file, 1, 1)

    def key_of(self, path: Path) -> Position:
        """Position of the key that introduces `path` (falls back to the value)."""
        return self.keys.get(path) or self.of(path)

    def merged(self, other: SourceMap) -> SourceMap:
        return SourceMap(self.file, {**self.values, **other.values}, {**self.keys, **other.keys})


@dataclass(frozen=True)
class YamlDocument:
    file: str
    data: Any
    source: SourceMap


class _Yaml12Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema: only true/false are booleans; no sexagesimals, octal 0755 or dates."""


_IMPLICIT = [
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        _FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
]
for _tag, _pattern, _first in _IMPLICIT:
    _Yaml12Resolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))

if yaml.__with_libyaml__:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
    # the C parser is iterative and fast; composing is capped by depth first

    class _Composer(CParser, _Yaml12Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Yaml12Resolver.__init__(self)

    def _events(text: str) -> Any:
        return yaml.parse(text, Loader=yaml.CSafeLoader)

else:  # pragma: no cover - PyYAML built without libyaml

    class _Composer(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _Yaml12Resolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Yaml12Resolver.__init__(self)

    def _events(text: str) -> Any:
        return yaml.parse(text, Loader=yaml.SafeLoader)


def _pos(file: str, mark: Any) -> Position:
    if mark is None:
        return Position(file, 1, 1)
    return Position(file, mark.line + 1, mark.column + 1)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _FatalLoad(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _fatal(position: Position, code: str, message: str) -> _FatalLoad:
    return _FatalLoad(error(position, code, message, group="yaml"))


def decode(file: str, raw: bytes, limits: LoaderLimits = DEFAULT_LIMITS) -> str:
    """Bytes to text, refusing what is not a UTF-8 text file with the reason and place."""
    if len(raw) > limits.max_bytes:
        raise _FatalLoad(_too_large(file, len(raw), limits))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fatal(
            Position(file, 1, 1),
            "encoding",
            "the file is saved as UTF-16; save it as UTF-8 (in most editors: Save as, Encoding: UTF-8).",
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark, as Notepad writes it, is harmless
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _fatal(
            _byte_position(file, raw, nul),
            "not-text",
            "this is not a text file (it contains NUL bytes); a scenario is a YAML text file.",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fatal(
            _byte_position(file, raw, exc.start),
            "encoding",
            f"byte 0x{raw[exc.start]:02x} is not valid UTF-8; save the file as UTF-8.",
        ) from None


def _too_large(file: str, size: int, limits: LoaderLimits) -> Diagnostic:
    return error(
        Position(file, 1, 1),
        "file-too-large",
        f"the file is {size:,} bytes; scenario files may be at most {limits.max_bytes:,} bytes. "
        "Split it into several files with `include:`.",
        "yaml",
    )


def _byte_position(file: str, raw: bytes, offset: int) -> Position:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", "replace")) + 1  # characters, not bytes
    return Position(file, raw.count(b"\n", 0, offset) + 1, column)


def _scan_events(file: str, text: str, limits: LoaderLimits) -> None:
    """Check nesting depth and the number of documents from the event stream, before composing
    (composing recurses; 50,000 nested brackets would crash it)."""
    cut = _too_deep_at(text, limits.max_depth)
    if cut is not None:
        # Both parsers scan deep flow nesting ahead in quadratic time (about 2 s for 50,000
        # brackets) before refusing it. Only the text up to the bracket past our limit is
        # parsed: when those brackets are real, _scan stops there with its place; when some
        # were inside quotes, the cut text is unreadable and the whole file decides.
        with contextlib.suppress(yaml.YAMLError):
            _scan(file, yaml.parse(text[:cut], Loader=yaml.SafeLoader), limits)
    try:
        _scan(file, _events(text), limits)
    except yaml.YAMLError as exc:
        if "nesting depth" not in str(exc):
            raise
        # Newer libyaml refuses deep nesting itself, while scanning ahead, without saying where
        # our limit was passed: the pure-Python parser (iterative, stops at our limit) does.
        _scan(file, yaml.parse(text, Loader=yaml.SafeLoader), limits)


_BRACKET = re.compile(r"[\[\]{}]")


def _too_deep_at(text: str, limit: int) -> int | None:
    """Where `[` and `{` first nest deeper than `limit`, counted roughly (brackets inside
    quotes count too): it only chooses what to parse first, never refuses a file."""
    depth = 0
    for match in _BRACKET.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        if depth > limit:
            return match.end()
    return None


def _scan(file: str, events: Any, limits: LoaderLimits) -> None:
    depth = 0
    documents = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limits.max_depth:
                raise _fatal(
                    _pos(file, event.start_mark),
                    "too-deep",
                    f"the structure is nested more than {limits.max_depth} levels deep; "
                    "flatten it (use more states instead of nesting).",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _fatal(
                    _pos(file, event.start_mark),
                    "multiple-documents",
                    "the file holds more than one YAML document (a second '---'); "
                    "put one scenario per file, or use `include:`.",
                )


def _compose(file: str, text: str) -> Node | None:
    composer = _Composer(text)
    try:
        node: Node | None = composer.get_single_node()
        return node
    finally:
        composer.dispose()


def _yaml_error_diagnostic(file: str, exc: yaml.YAMLError, text: str = "") -> Diagnostic:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "; ".join(parts) if parts else "this is not valid YAML"
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote: point at it, not at the end of the file
        explained = explain(
            text,
            exc.problem or "",
            _line_column(exc.problem_mark),
            exc.context or "",
            _line_column(exc.context_mark),
        )
        if explained is not None:
            return error(
                Position(file, explained.line, explained.column),
                "yaml-syntax",
                explained.message,
                "yaml",
            )
        hint = _syntax_hint(message, _char_at(text, mark))
        return error(_pos(file, mark), "yaml-syntax", f"invalid YAML: {message}{hint}", "yaml")
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        encoded = text.encode("utf-8")  # libyaml counts bytes, the Python reader characters
        offset = exc.position if yaml.__with_libyaml__ else len(text[: exc.position].encode())
        return error(
            _byte_position(file, encoded, min(max(offset, 0), len(encoded))),
            "yaml-syntax",
            f"invalid YAML: the character U+{exc.character:04X} is not allowed here "
            f"({exc.reason}); delete it, most editors do not show it.",
            "yaml",
        )
    detail = " ".join(str(exc).split())  # one line, whatever the library wrote
    return error(Position(file, 1, 1), "yaml-syntax", f"invalid YAML: {detail}", "yaml")


def _line_column(mark: Any) -> tuple[int, int] | None:
    return None if mark is None else (mark.line, mark.column)


def _char_at(text: str, mark: Any) -> str:
    """The character an error mark points at ('' if unknown)."""
    if mark is None:
        return ""
    lines = text.splitlines()
    line = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    return line[mark.column] if 0 <= mark.column < len(line) else ""


def _syntax_hint(message: str, found: str = "") -> str:
    if "mapping values are not allowed" in message:
        return ". If a text contains ': ', put the whole text in quotes."
    # the Python scanner names the tab; libyaml says "found character that cannot start any
    # token" or "found a tab character that violates indentation"
    if "found character '\\t'" in message or "tab character" in message or found == "\t":
        return ". Indent with spaces, not tabs."
    if "scanning a quoted scalar" in message and "end of stream" in message:
        return ". The quote that starts here is never closed; add the closing quote."
    if "found undefined alias" in message:
        return ". Define the anchor (&name) before using it (*name)."
    if "could not find expected ':'" in message:
        return ". Each line of a mapping needs 'key: value'."
    return ""


class _Builder:
    """Turns composed nodes into plain data, recording positions and refusing unsafe content."""

    def __init__(self, file: str, limits: LoaderLimits, text: str = "") -> None:
        self.file = file
        self.limits = limits
        self.text = text
        self.lines = text.splitlines()
        self.source = SourceMap(file)
        self.problems: list[Diagnostic] = []

    def check_size(self, root: Node) -> None:
        """Count nodes and nesting as if aliases were expanded, in linear time (an alias bomb is
        small, and so is a chain of aliases that nests deeper than the parse events show)."""
        sizes: dict[int, tuple[int, int]] = {}  # finished: (values, nesting) once expanded
        ancestors: set[int] = set()  # nodes whose children are being counted
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in sizes or (id(node) in ancestors and not children_done):
                continue
            children: list[Node] = []
            if isinstance(node, SequenceNode):
                children = list(node.value)
            elif isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            collection = isinstance(node, SequenceNode | MappingNode)
            if collection and len(node.value) > self.limits.max_items:
                raise _fatal(
                    _pos(self.file, node.start_mark),
                    "too-many-items",
                    f"this list or mapping has {len(node.value):,} entries; at most "
                    f"{self.limits.max_items:,} are allowed.",
                )
            if children_done:
                ancestors.discard(id(node))
                total = 1 + sum(sizes[id(c)][0] for c in children)
                depth = 1 + max((sizes[id(c)][1] for c in children), default=0) if collection else 0
                sizes[id(node)] = (total, depth)
                if total > self.limits.max_nodes:
                    raise _fatal(
                        _pos(self.file, node.start_mark),
                        "too-many-nodes",
                        f"this file expands to more than {self.limits.max_nodes:,} values "
                        "(anchors and aliases repeat content); write the content out plainly.",
                    )
                if depth > self.limits.max_depth:
                    raise _fatal(
                        _pos(self.file, node.start_mark),
                        "too-deep",
                        f"with its aliases (*name) repeated, the structure is nested more than "
                        f"{self.limits.max_depth} levels deep; write the content out plainly.",
                    )
                continue
            ancestors.add(id(node))
            stack.append((node, True))
            for child in children:
                if id(child) in ancestors:  # the composer allows `&a [*a]`: it never ends
                    raise _fatal(
                        _pos(self.file, node.start_mark),
                        "too-deep",
                        "an alias (*name) here repeats a list or mapping that contains it, so it "
                        "would nest forever; remove the alias.",
                    )
                if id(child) not in sizes:
                    stack.append((child, False))

    def build(self, node: Node, path: Path) -> Any:
        self.source.values[path] = self._start(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            self._check_tag(node, _SEQ)
            return [self._item(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        if node.flow_style and self.text.startswith("{{", node.start_mark.index):
            explained = unquoted_braces(self.lines, node.start_mark.line)
            if explained is not None:  # `say: {{ name }}`: a template, not a mapping in a mapping
                self.problems.append(
                    error(
                        Position(self.file, explained.line, explained.column),
                        "yaml-syntax",
                        explained.message,
                        "yaml",
                    )
                )
                return self.text[node.start_mark.index : node.end_mark.index]
        self._check_tag(node, _MAP)
        return self._mapping(node, path)

    def _item(self, node: Node, path: Path) -> Any:
        """A list entry; `- Choose one:` (a key without a value, where no key can have spaces)
        is the text the author meant, reported."""
        if (
            isinstance(node, MappingNode)
            and not node.flow_style
            and len(node.value) == 1
            and isinstance(node.value[0][0], ScalarNode)
            and not node.value[0][0].style
            and re.search(r"[^\w-]", node.value[0][0].value)
            and isinstance(node.value[0][1], ScalarNode)
            and node.value[0][1].tag == _NULL
            and node.value[0][1].value == ""
        ):
            key_node = node.value[0][0]
            self.source.values[path] = _pos(self.file, key_node.start_mark)
            colon = self.text.find(":", key_node.end_mark.index)
            self.problems.append(
                error(
                    _pos(self.file, key_node.end_mark),
                    "yaml-syntax",
                    text_ending_with_colon(key_node.value + ":"),
                    "yaml",
                )
            )
            return key_node.value + ":" if colon >= 0 else key_node.value
        return self.build(node, path)

    def _start(self, node: Node) -> Position:
        """Where a node's content begins. A block text (`|` or `>`) begins on the line after its
        indicator, so that line n of the text (in a template error) is n lines further on."""
        if not (isinstance(node, ScalarNode) and node.style in ("|", ">") and node.value):
            return _pos(self.file, node.start_mark)
        index = node.start_mark.line + 1
        first = self.lines[index] if index < len(self.lines) else ""
        indent = len(first) - len(first.lstrip(" "))
        return Position(self.file, index + 1, indent + 1 if first.strip() else 1)

    def _check_tag(self, node: Node, expected: str) -> bool:
        if node.tag == expected:
            return True
        self.problems.append(
            error(
                _pos(self.file, node.start_mark),
                "yaml-tag",
                f"the tag '{_short_tag(node.tag)}' is not allowed: scenarios hold plain texts, "
                "numbers, lists and mappings. Remove the tag.",
                "yaml",
            )
        )
        return False

    def _scalar(self, node: ScalarNode) -> Any:
        value: str = node.value
        tag = node.tag
        if tag == _STR:
            return value
        if tag == _BOOL:
            return value.lower() == "true"
        if tag == _NULL:
            return None
        if tag == _INT:
            try:
                return int(value, 0) if value[:2] in ("0o", "0x") else int(value, 10)
            except ValueError:
                pass
        elif tag == _FLOAT:
            lowered = value.lower()
            if lowered.endswith(".inf"):
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            try:
                return float(value)
            except ValueError:
                pass
        self._check_tag(node, _STR)
        return value

    def _cut_by_comma(self, key_node: Node, value_node: Node) -> bool:
        """Whether this entry of a `{ }` mapping is a key without ':' (the rest of a text)."""
        if not (isinstance(key_node, ScalarNode) and isinstance(value_node, ScalarNode)):
            return False
        if key_node.style or value_node.tag != _NULL or value_node.value != "":
            return False
        after = self.text[key_node.end_mark.index :].lstrip()
        return after.startswith((",", "}"))

    def _join_cut_text(
        self, result: dict[str, Any], path: Path, before: tuple[str, Node], key_node: Node
    ) -> None:
        """`{say: Hi, bye.}` is reported, and read as the author meant: say is 'Hi, bye.'."""
        key, value_node = before
        joined = self.text[value_node.start_mark.index : key_node.end_mark.index]
        position = _pos(self.file, value_node.start_mark)
        self.problems = [
            p for p in self.problems if not (p.position == position and p.code == "yaml-syntax")
        ]
        self.problems.append(
            error(position, "yaml-syntax", comma_in_braces(key_node.value, joined, key), "yaml")
        )
        result[key] = joined

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        merges: list[tuple[Position, Node]] = []
        text_before: tuple[str, Node] | None = None  # the last plain text, in `{a: b, c}`
        for key_node, value_node in node.value:
            if (
                node.flow_style
                and text_before is not None
                and self._cut_by_comma(key_node, value_node)
            ):
                self._join_cut_text(result, path, text_before, key_node)
                continue
            text_before = None
            if (
                node.flow_style
                and isinstance(key_node, ScalarNode)
                and isinstance(value_node, ScalarNode)
                and value_node.tag == _STR
                and not value_node.style
            ):
                text_before = (key_node.value, value_node)
            key_position = _pos(self.file, key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                self.problems.append(
                    error(
                        key_position,
                        "complex-key",
                        "a key must be a plain name, not a list or mapping. If this is a text "
                        "that starts with '{{' or '[', put the whole text in quotes.",
                        "yaml",
                    )
                )
                continue
            key = key_node.value
            if key_node.tag not in (_STR, _INT, _FLOAT, _BOOL, _NULL):
                self._check_tag(key_node, _STR)  # `!!python/... name:` is refused on keys too
            if key == "<<" and not key_node.style:  # plain, not quoted
                merges.append((key_position, value_node))
                continue
            if key in first_seen:
                first = first_seen[key]
                self.problems.append(
                    error(
                        key_position,
                        "duplicate-key",
                        f"the key '{key}' is written twice in this mapping (first at line "
                        f"{first.line}); keep one of them.",
                        "yaml",
                    )
                )
                continue
            first_seen[key] = key_position
            child = (*path, key)
            self.source.keys[child] = key_position
            result[key] = self.build(value_node, child)
        for merge_position, merge in merges:  # `<<: *defaults` fills in keys not written here
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.problems.append(
                        error(
                            merge_position,  # the alias leads to where its anchor is
                            "yaml-merge",
                            "'<<' must be followed by an alias of a mapping, like '<<: *defaults'.",
                            "yaml",
                        )
                    )
                    continue
                for key, value in self._mapping(source, path).items():
                    result.setdefault(key, value)
        return result


def load_yaml_text(
    file: str, raw: bytes, limits: LoaderLimits = DEFAULT_LIMITS
) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one scenario file's bytes. Returns the document (None if unusable) and problems."""
    text = ""
    try:
        text = decode(file, raw, limits)
        if not text.strip() or all(
            not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
        ):
            raise _fatal(
                Position(file, 1, 1),
                "empty-file",
                "the file is empty; a scenario needs at least `bot:` and `states:`.",
            )
        _scan_events(file, text, limits)
        root = _compose(file, text)
        if root is None:
            raise _fatal(Position(file, 1, 1), "empty-file", "the file holds no YAML content.")
        builder = _Builder(file, limits, text)
        builder.check_size(root)
        data = builder.build(root, ())
        return YamlDocument(file, data, builder.source), builder.problems
    except _FatalLoad as exc:
        return None, [exc.diagnostic]
    except yaml.YAMLError as exc:
        return None, [_yaml_error_diagnostic(file, exc, text)]


def load_yaml_file(
    path: str, limits: LoaderLimits = DEFAULT_LIMITS
) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Read and parse a file, never reading more than the size cap allows, and never opening
    what is not a regular file (a named pipe would wait for a writer forever)."""
    try:
        raw = read_regular_file(path, limits.max_bytes)
    except FileTooLarge as exc:
        return None, [_too_large(path, exc.size, limits)]
    except FileNotFoundError:
        return None, [error(Position(path), "file-not-found", "no such file.", "file")]
    except NotARegularFile as exc:
        if exc.what == "a folder":
            return None, [
                error(Position(path), "file-not-found", "this is a folder, not a file.", "file")
            ]
        return None, [
            error(
                Position(path),
                "file-unreadable",
                f"this is {exc.what}, not a file; a scenario is a YAML text file.",
                "file",
            )
        ]
    except OSError as exc:
        return None, [
            error(
                Position(path), "file-unreadable", f"cannot read the file: {exc.strerror}.", "file"
            )
        ]
    return load_yaml_text(path, raw, limits)
