"""docs/pipelines.md stays true: its JSON examples are valid definitions and steps, and it
shows every control step type."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shipyard.jobs import kind_names
from shipyard.pipelines import CONTROL_TYPES, parse_definition

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"


def test_the_guide_s_examples_are_valid_and_cover_every_control_step() -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    kinds = [*kind_names(), "evaluate"]  # the evaluate kind may be registered elsewhere
    shown = set()
    for block in blocks:
        steps = block.get("steps", [block])
        definition = block if "steps" in block else {"name": "doc", "steps": steps}
        # A lone step's references to other steps are examples; check its own shape only.
        if "steps" not in block:
            definition = json.loads(re.sub(r'\{"ref": "steps\.[^"]+"\}', '"x:1"',
                                           json.dumps(definition)))
        parse_definition(definition, kinds)
        shown |= {s["type"] for s in steps}
    assert set(CONTROL_TYPES) <= shown, sorted(set(CONTROL_TYPES) - shown)
    assert "shipyard pipelines triggers --help" in text
