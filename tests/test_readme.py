"""The README's option reference matches the schema it is generated from."""
from __future__ import annotations

from pathlib import Path

from node.config.reference import BEGIN, END, render
from node.config.validation import load_schema

README = Path(__file__).resolve().parent.parent / "README.md"


def test_option_reference_is_generated_from_schema():
    """README.md holds exactly what `python -m node.config.reference` renders."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(BEGIN):text.index(END) + len(END)]
    assert section == render(), "run: python -m node.config.reference --write README.md"


def test_readme_has_exactly_two_setup_commands():
    """The quick start holds the install+start command and the install+test command."""
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start"):text.index("## The command")]
    blocks = quick.split("```sh")[1:]
    commands = [b.split("```")[0].strip() for b in blocks]
    assert len(commands) == 2
    assert "wampnode start" in commands[0] and commands[1] == "bash tests/run.sh"


def test_limits_table_names_every_realm_limit():
    """Each realm option that bounds something (``max_*``) has a row in "Limits and defaults"."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### Limits and defaults")
    section = text[start:text.index("\n### ", start + 1)]
    options = load_schema()["$defs"]["realm"]["properties"]["options"]["properties"]
    limits = [name for name in options if name.startswith("max_")]
    assert limits and all(f"`realms[].options.{name}`" in section for name in limits), limits
