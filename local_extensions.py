"""Jinja extensions for this template, listed in cookiecutter.json's `_extensions`.

Cookiecutter puts the template's directory on sys.path while it renders, which is how it
finds this module; the module is not part of a baked project.
"""

import functools
import json
import re
import unicodedata
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE = Path(__file__).resolve().parent
# ruff's line length in the baked project (its ruff.toml).
LINE_LENGTH = 100
# Characters of text per line when a long string literal is wrapped.
WRAP_WIDTH = 72


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@functools.cache
def template_texts() -> frozenset[str]:
    """The template's own texts that cookiecutter renders from strings, without a file
    loader: the values in cookiecutter.json, the hook scripts, the names of the entries
    at the template's root (the project directory's name among them)."""
    texts = set(_strings(json.loads((TEMPLATE / "cookiecutter.json").read_text())))
    texts |= {
        hook.read_text(encoding="utf-8")
        for hook in (TEMPLATE / "hooks").iterdir()
        if hook.suffix in (".py", ".sh")
    }
    texts |= {entry.name for entry in TEMPLATE.iterdir()}
    return frozenset(texts)


class LiteralAnswers(Extension):
    """Answers are data, never templates.

    `cookiecutter --no-input name=value` renders each value as a Jinja template before
    any hook runs: a project named `{{ 7*7 }}` would be called 49, and one named
    `{% raw %}` would stop the bake with a traceback. (Answers typed at the prompt are
    not rendered.) Before it sets a file loader, cookiecutter renders only answers, the
    template's defaults, the hook scripts and the project directory's name; of those,
    whatever is not the template's own text is an answer, and is compiled as a Jinja
    string literal that renders to exactly itself.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is not None or self.environment.loader is not None:
            return source
        if source in template_texts():
            return source
        # A JSON string is a Jinja string literal: Jinja undoes the same escapes.
        return "{{ " + json.dumps(source, ensure_ascii=False) + " }}"


# Non-ASCII characters a Python string literal may hold as typed. ruff's
# confusable-character rule (RUF001) flags letters that look like ASCII ones (Cyrillic
# "а", Greek "Ρ", the en dash, curly quotes, fullwidth forms, ...); these ranges hold none
# of them, which tests/test_first_minutes.py proves character by character against the
# locked ruff. Everything else non-ASCII is written as an escape in Python files.
PYTHON_SAFE_RANGES = (
    (0x3041, 0x3096),  # Hiragana
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7A3),  # Hangul Syllables
    (0x1F300, 0x1F5FF),  # Miscellaneous Symbols and Pictographs
    (0x1F600, 0x1F64F),  # Emoticons
    (0x1F680, 0x1F6FF),  # Transport and Map Symbols
    (0x1F900, 0x1F9FF),  # Supplemental Symbols and Pictographs
)
# Two ideographs that look like a backslash and a slash.
PYTHON_CONFUSABLE_IDEOGRAPHS = frozenset("\u4e36\u4e3f")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _accented_latin(char: str) -> bool:
    """é, ë, ñ, ç, ...: an ASCII letter with combining marks, which nothing mistakes
    for the bare letter."""
    base, *marks = unicodedata.normalize("NFD", char)
    return (
        base.isascii()
        and base.isalpha()
        and bool(marks)
        and all(unicodedata.category(mark).startswith("M") for mark in marks)
    )


def python_literal_char(char: str) -> bool:
    """Whether a non-ASCII character may stand as typed in a Python string literal."""
    code = ord(char)
    return char.isprintable() and (
        _accented_latin(char)
        or (
            any(low <= code <= high for low, high in PYTHON_SAFE_RANGES)
            and char not in PYTHON_CONFUSABLE_IDEOGRAPHS
        )
    )


def _toml_char(char: str) -> str:
    """One character inside a double-quoted TOML string: UTF-8 as typed, except what
    must be escaped and what would not be visible."""
    if char in '"\\':
        return "\\" + char
    return char if char.isprintable() else _escape(char)


def _python_char(char: str) -> str:
    """One character inside a double-quoted Python string, as ruff leaves it."""
    if char == "\\":
        return "\\\\"
    if char == '"':
        # Escaped by code, not by a backslash: ruff format counts quote escapes and
        # would switch the literal to single quotes.
        return _escape(char)
    if " " <= char <= "~" or (not char.isascii() and python_literal_char(char)):
        return char
    return _escape(char)


def _columns(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _width(text: str) -> int:
    """Columns the text takes in an editor, as ruff measures lines: East Asian wide
    characters and emoji take two, combining marks none."""
    return sum(map(_columns, text))


def toml_string(value: str) -> str:
    """A TOML basic string holding exactly `value`."""
    return '"' + "".join(map(_toml_char, value)) + '"'


def python_string(value: str, column: int) -> str:
    """A Python string literal holding exactly `value`, starting at `column`, written as
    ruff format leaves it: on one line if that line fits, else wrapped at spaces inside
    parentheses (indent the result to place it in a block)."""
    literal = '"' + "".join(map(_python_char, value)) + '"'
    if column + _width(literal) <= LINE_LENGTH:
        return literal
    lines, line = [], ""
    for word in re.findall(r"\S*\s*", value):
        escaped = "".join(map(_python_char, word))
        if line and _width(line) + _width(escaped) > WRAP_WIDTH:
            lines.append(line)
            line = ""
        for char in word:  # a word longer than a line is cut where it must be
            piece = _python_char(char)
            if _width(line) + _width(piece) > WRAP_WIDTH:
                lines.append(line)
                line = ""
            line += piece
    lines.append(line)
    return "(\n" + "".join(f'    "{text}"\n' for text in lines) + ")"


class StringLiterals(Extension):
    """Filters that write an answer into a TOML or Python file as a string literal,
    in UTF-8 as the user typed it wherever the language and the project's linters allow.

    Jinja's `tojson` would escape every non-ASCII character, and write one outside the
    Basic Multilingual Plane (an emoji) as a surrogate pair: an invalid TOML string and
    two lone surrogates in Python.
    """

    def __init__(self, environment: Environment):
        super().__init__(environment)
        environment.filters["toml_string"] = toml_string
        environment.filters["python_string"] = python_string
