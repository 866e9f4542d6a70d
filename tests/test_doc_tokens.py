"""Every replay token shown in README.md and docs/ replays, with the outcome the text claims.

Tokens in the docs are promises: users copy them. Each one is listed in
``REPLAYED`` with the test that replays it; a token that appears in the docs
and is not listed fails the first test here. The code the docs show is run as
it stands (extracted from the Markdown), not a copy of it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness  # noqa: F401  (imported here, not again in every in-process pytester run)

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOKEN = re.compile(r"\bh[0-9]\.[A-Za-z0-9_-]{8,}")
README_PYTEST = "h1.AZOT1rkBBwEBAPsiWAfcgqE"
README_SCENARIO = "h1.B6WCtqMCAQAAABVtZXRhZGF0YS1sd3cvb3JpZ2luYWwPAQIARL7GLQ7ucw"
REPLAYED = {
    README_PYTEST: "test_the_tutorial_tokens_fail_the_way_the_docs_show",
    README_SCENARIO: "test_the_readme_scenario_token_replays_the_bundled_bug",
    # README "Test your store's API against a model": tests/test_readme_linearizability.py
    "h2.AgACAAMLABYBAygBBBAApYK2owIAAAABAAD5kW8aOKCZ": "test_readme_linearizability",
}


def test_every_token_in_the_docs_is_replayed_by_a_test() -> None:
    shown = {token for path in DOCS for token in TOKEN.findall(path.read_text())}
    assert shown, "the docs show replay tokens"
    assert shown <= set(REPLAYED), f"tokens nobody replays: {sorted(shown - set(REPLAYED))}"


def _block(path: Path, after: str, index: int = 0) -> str:
    """The ``index``-th python block after the line ``after`` in a Markdown file."""
    text = path.read_text()
    start = text.index(after)
    return re.findall(r"```python\n(.*?)```", text[start:], flags=re.S)[index]


def _replay(pytester: pytest.Pytester, token: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "tests/test_settings.py::test_the_last_click_wins", f"--harness-replay={token}", "-p",
        "no:randomly",
    )  # fmt: skip


def test_the_tutorial_tokens_fail_the_way_the_docs_show(pytester: pytest.Pytester) -> None:
    readme_test = _block(ROOT / "README.md", "### 1. Find")
    pytester.mkdir("tests")
    pytester.path.joinpath("tests", "test_settings.py").write_text(readme_test)
    result = _replay(pytester, README_PYTEST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: assert [[]('light',)[]] == [[]('dark',)[]]*"])

    # docs/pytest.md: the same token, on the SettingsStore version of the test
    guide = ROOT / "docs" / "pytest.md"
    pytester.path.joinpath("settings_store.py").write_text(_block(guide, "Our app keeps"))
    pytester.path.joinpath("tests", "test_settings.py").write_text(
        _block(guide, "### 1. Write a harness test")
    )
    pytester.path.joinpath("tests", "conftest.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
    )
    result = _replay(pytester, README_PYTEST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "AssertionError: assert 'light' == 'dark'",
            "harness: the replayed schedule failed (mode parallel, 1 deviation(s))",
        ]
    )
    assert "timeline (24 steps):" in result.stdout.str()

    # docs/pytest.md "5. Fix the code": the old token no longer names a schedule
    fixed = _block(guide, "### 5. Fix the code")
    store = pytester.path.joinpath("settings_store.py")
    store.write_text(
        store.read_text()
        + "\n\n_Original = SettingsStore\n"
        + fixed.replace("class SettingsStore:", "class SettingsStore(_Original):")
    )
    result = _replay(pytester, README_PYTEST)
    result.assert_outcomes(failed=1)
    shown = _text_block(guide, "And the old token?").splitlines()[1]
    assert shown.startswith("harness: NondeterminismError while replaying test_the_last_click_")
    assert shown in result.stdout.str().splitlines()


def _text_block(path: Path, after: str) -> str:
    text = path.read_text()
    return re.findall(r"```text\n(.*?)```", text[text.index(after) :], flags=re.S)[0]


def test_the_readme_scenario_token_replays_the_bundled_bug() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "replay", "-q", README_SCENARIO],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # 1: the replayed schedule fails
    assert done.stdout.startswith("FAILED: Violation: last writer lost")
