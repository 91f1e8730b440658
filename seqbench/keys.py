"""Spec keys as data: a key's type, default, bounds and meaning, and the check of a table of them.

Every key of a job spec is declared once, as a :class:`Key` (the global ones in
:data:`seqbench.spec.SCHEMA`, an experiment's own in its ``inputs``); the check, the error
messages and ``docs/spec.md`` all derive from that declaration.  This module imports nothing of
seqbench, so that experiments, the spec loader and the docs generator can all use it.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any


class SpecError(ValueError):
    """A job spec (or an input it names) is not what seqbench expects."""


@dataclass(frozen=True)
class Key:
    """One accepted spec key.

    ``type``: the accepted Python type(s) of the TOML value (a TOML boolean is never a number, and
    a TOML float such as ``1.0`` is never an ``int``); ``choices``: the accepted values (of every
    element, for a list); ``min``/``max``: inclusive bounds of a number, or of every element of a
    list (a number must also be finite: no ``nan`` or ``inf``); ``item``: the type every element
    of a list must have; ``length``: the exact number of elements of a list; ``path``: a file or
    folder name (for a list: every element), resolved against ``data_root``.
    """

    type: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    item: type | tuple[type, ...] | None = None
    path: bool = False
    length: int | None = None

    def bounds_text(self) -> str:
        """The bounds in words (for messages and docs), or ``""``."""
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)} <= x <= {_num(self.max)}"
        if self.min is not None:
            return f">= {_num(self.min)}"
        if self.max is not None:
            return f"<= {_num(self.max)}"
        return ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def a_type(value: object) -> str:
    """``"a str"``, ``"an int"``: the type of ``value`` with its article, for messages."""
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("a number" if t is float else t.__name__ for t in types)


def _is(value: Any, types: tuple[type, ...]) -> bool:
    # TOML booleans are ints to Python; refuse them where a number is expected
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def closest(name: str, options: list[str]) -> str:
    """``"; did you mean 'x'?"`` for a misspelt name, else the list of valid names."""
    m = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f"; did you mean {m[0]!r}?" if m else f"; valid keys: {', '.join(sorted(options))}"


def check_value(name: str, key: Key, value: Any, origin: str) -> Any:
    """The value of key ``name`` checked against its declaration (``SpecError`` naming it if not).

    Every message is one line: ``<origin>: <key> = <value> ...; expected <what>``.
    """
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    if not _is(value, types):
        raise SpecError(f"{origin}: {name} = {value!r} is {a_type(value)}; expected {_type_names(types)}")
    is_list = isinstance(value, list)
    if is_list and key.length is not None and len(value) != key.length:
        raise SpecError(f"{origin}: {name} = {value!r} has {len(value)} elements; expected exactly {key.length}")
    items = value if is_list else [value]
    if is_list and key.item is not None:
        itypes = key.item if isinstance(key.item, tuple) else (key.item,)
        for i, v in enumerate(value):
            if not _is(v, itypes):
                raise SpecError(
                    f"{origin}: {name}[{i}] = {v!r} is {a_type(v)}; expected {_type_names(itypes)}"
                )
    if key.choices:
        for i, v in enumerate(items):
            if v not in key.choices:
                where = f"{name}[{i}]" if is_list else name
                raise SpecError(f"{origin}: {where} = {v!r}; expected one of {', '.join(map(str, key.choices))}")
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        where = f"{name}[{i}]" if is_list else name
        if isinstance(v, float) and not math.isfinite(v):
            raise SpecError(f"{origin}: {where} = {v!r}; expected a finite number {key.bounds_text()}".rstrip())
        if (key.min is not None and v < key.min) or (key.max is not None and v > key.max):
            raise SpecError(f"{origin}: {where} = {v!r}; expected {key.bounds_text()}")
    return value


def check_table(where: str, table: dict, schema: dict[str, Key], origin: str) -> dict[str, Any]:
    """Every key of ``table`` known and valid; missing keys take their defaults.

    ``where`` prefixes key names in messages (``"inputs."``).
    """
    out: dict[str, Any] = {}
    for k in table:
        if k not in schema:
            raise SpecError(f"{origin}: unknown key {where}{k}{closest(k, list(schema))}")
    for k, key in schema.items():
        if k not in table:
            out[k] = key.default
            continue
        out[k] = check_value(f"{where}{k}", key, table[k], origin)
    return out
