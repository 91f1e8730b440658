"""Reference text generated from the code, so that ``docs/spec.md`` cannot drift from it.

``python -m seqbench.docgen`` prints the key tables; ``tests/test_docs.py`` checks that
``docs/spec.md`` contains them verbatim.
"""

from __future__ import annotations

from seqbench.spec import SCHEMA, Key


def _type_name(key: Key) -> str:
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    names = {"str": "string", "int": "integer", "float": "number", "list": "array"}
    return " or ".join(names.get(t.__name__, t.__name__) for t in types)


def _row(name: str, key: Key) -> str:
    default = "—" if key.default is None else f"`{key.default!r}`".replace("'", '"')
    choices = f" One of: {', '.join(f'`{c}`' for c in key.choices)}." if key.choices else ""
    return f"| `{name}` | {_type_name(key)} | {default} | {key.doc}.{choices} |"


def spec_reference() -> str:
    from seqbench.experiments import EXPERIMENTS

    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    out = ["### Top level", "", *header]
    out += [_row(k, v) for k, v in SCHEMA.items() if isinstance(v, Key)]
    for table, keys in SCHEMA.items():
        if isinstance(keys, dict):
            out += ["", f"### `[{table}]`", "", *header]
            out += [_row(f"{table}.{k}", v) for k, v in keys.items()]
    for name, mod in EXPERIMENTS.items():
        out += ["", f"### `[inputs]` of `{name}`", "", *header]
        out += [_row(f"inputs.{k}", v) for k, v in mod.INPUTS.items()]
        out += ["", f"Default `[tracks]` of `{name}`: "
                + ", ".join(f"`{k}` = `{v}`" for k, v in mod.DEFAULT_TRACKS.items())
                + f"; the experiment reads the label `{mod.READOUT}`."]
        for table, keys in getattr(mod, "SPEC_DEFAULTS", {}).items():
            shown = ", ".join(f"`{table}.{k}` = `{v!r}`".replace("'", '"') for k, v in keys.items())
            out += ["", f"Defaults of `{name}` that differ from the tables above: {shown}."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(spec_reference(), end="")
