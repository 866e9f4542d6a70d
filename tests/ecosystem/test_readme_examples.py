"""README's "Your stack" examples are these files, word for word (each one is a test here)."""

from __future__ import annotations

import os
import re

from tests.ecosystem._check import ROOT


def _stack_examples() -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("\n## Your stack\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_every_example_in_your_stack_is_the_start_of_the_file_it_names() -> None:
    examples = _stack_examples()
    assert len(examples) == 6
    shown = set()
    for example in examples:
        first = example.splitlines()[0]
        match = re.match(r"# (tests/ecosystem/\w+\.py)", first)
        assert match, f"an example must name its file in its first line: {first!r}"
        path = match.group(1)
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            text = f.read()
        assert text.startswith(example), f"README's example differs from {path}"
        shown.add(os.path.basename(path))
    readme_tests = {
        name
        for name in os.listdir(os.path.join(ROOT, "tests", "ecosystem"))
        if name.startswith("test_readme_") and name != "test_readme_examples.py"
    }
    assert readme_tests <= shown
