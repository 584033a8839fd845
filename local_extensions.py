"""Jinja extensions for this template, listed in cookiecutter.json's `_extensions`.

Cookiecutter puts the template's directory on sys.path while it renders, which is how it
finds this module; the module is not part of a baked project.
"""

import functools
import json
import re
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


def _escaped(char: str) -> str:
    """One character as it appears inside a double-quoted Python or TOML string."""
    if char == "\\":
        return "\\\\"
    if " " <= char <= "~" and char != '"':
        return char
    code = ord(char)
    # Escaped rather than written out: quotes would make ruff format pick the other
    # quote style, and non-ASCII letters could trip ruff's confusable-character rule.
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def toml_string(value: str) -> str:
    """A TOML basic string holding exactly `value`."""
    return '"' + "".join(map(_escaped, value)) + '"'


def python_string(value: str, column: int) -> str:
    """A Python string literal holding exactly `value`, starting at `column`, written as
    ruff format leaves it: on one line if that line fits, else wrapped at spaces inside
    parentheses (indent the result to place it in a block)."""
    literal = toml_string(value)
    if column + len(literal) <= LINE_LENGTH:
        return literal
    lines, line = [], ""
    for word in re.findall(r"\S*\s*", value):
        escaped = "".join(map(_escaped, word))
        if line and len(line) + len(escaped) > WRAP_WIDTH:
            lines.append(line)
            line = ""
        for char in word:  # a word longer than a line is cut where it must be
            piece = _escaped(char)
            if len(line) + len(piece) > WRAP_WIDTH:
                lines.append(line)
                line = ""
            line += piece
    lines.append(line)
    return "(\n" + "".join(f'    "{text}"\n' for text in lines) + ")"


class StringLiterals(Extension):
    """Filters that write an answer into a TOML or Python file as a string literal.

    Jinja's `tojson` writes a character outside the Basic Multilingual Plane (an emoji)
    as a surrogate pair: valid JSON, but an invalid TOML string and two lone surrogates
    in Python. These escape it as \\U0001f600, which both languages read back.
    """

    def __init__(self, environment: Environment):
        super().__init__(environment)
        environment.filters["toml_string"] = toml_string
        environment.filters["python_string"] = python_string


class ReservedNames(Extension):
    """`reserved_names` for the pre-gen hook: the names a project slug may not take,
    from hooks/reserved_names.json, which scripts/reserved_names.py derives from
    installs of the shipped locks. (The hook runs from a temporary copy in the new
    project's directory, so it cannot find the file itself.)"""

    def __init__(self, environment: Environment):
        super().__init__(environment)
        names = (TEMPLATE / "hooks" / "reserved_names.json").read_text(encoding="utf-8")
        environment.globals["reserved_names"] = json.loads(names)
