"""Reference text generated from the code, so that ``docs/spec.md`` cannot drift from it.

``python -m seqbench.docgen`` prints the key tables; ``tests/test_docs.py`` checks that
``docs/spec.md`` contains them verbatim.
"""

from __future__ import annotations

from seqbench.keys import Key
from seqbench.spec import SCHEMA


def _type_name(key: Key) -> str:
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    names = {"str": "string", "int": "integer", "float": "number", "list": "array"}
    return " or ".join(names.get(t.__name__, t.__name__) for t in types)


def _row(name: str, key: Key) -> str:
    default = "—" if key.default is None else f"`{key.default!r}`".replace("'", '"')
    each = "Each element: " if key.type is list else ""
    extra = ""
    if key.item is not None:
        items = key.item if isinstance(key.item, tuple) else (key.item,)
        extra += f" Elements: {' or '.join(_type_name(Key(t, None, '')) for t in items)}."
    if key.length is not None:
        extra += f" Exactly {key.length} elements."
    if key.choices:
        extra += f" {each or ''}{'one' if each else 'One'} of: {', '.join(f'`{c}`' for c in key.choices)}."
    if key.bounds_text():
        extra += f" {each}`{key.bounds_text()}`."
    return f"| `{name}` | {_type_name(key)} | {default} | {key.doc}.{extra} |"


def spec_reference() -> str:
    from seqbench.registry import BUILTINS

    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    out = ["### Top level", "", *header]
    out += [_row(k, v) for k, v in SCHEMA.items() if isinstance(v, Key)]
    for table, keys in SCHEMA.items():
        if isinstance(keys, dict):
            out += ["", f"### `[{table}]`", "", *header]
            out += [_row(f"{table}.{k}", v) for k, v in keys.items()]
    for mod in BUILTINS:
        name = mod.name
        out += ["", f"### `[inputs]` of `{name}`", "", *header]
        out += [_row(f"inputs.{k}", v) for k, v in mod.inputs.items()]
        reads = (f"; the experiment reads the label `{mod.readout}`." if mod.readout is not None
                 else "; the experiment picks the tracks it reads from each model's track table."
                 if mod.extra_tracks is not None or mod.default_tracks
                 else "; the experiment reads no track (it runs no model).")
        out += ["", f"Default `[tracks]` of `{name}`: "
                + (", ".join(f"`{k}` = `{v}`" for k, v in mod.default_tracks.items()) or "none") + reads]
        for table, keys in mod.spec_defaults.items():
            shown = ", ".join(f"`{table}.{k}` = `{v!r}`".replace("'", '"') for k, v in keys.items())
            out += ["", f"Defaults of `{name}` that differ from the tables above: {shown}."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(spec_reference(), end="")
