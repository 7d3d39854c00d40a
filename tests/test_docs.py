"""The README and ``docs/`` hold together: every relative link resolves (the file exists and a
``#fragment`` names a heading of the Markdown page it points to, as GitHub makes anchors), every
page of ``docs/`` is in the README's index, and the README opens with the two commands that set
up a fresh machine, both of them Makefile targets.

Paths are found from this file, so the checks are the same from any working directory. A link
that leaves the repository (the design reference in ``../shared/``) is checked only where that
sibling checkout is present.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without fenced code blocks (their brackets are code, not links)."""
    return _FENCE.sub("", text)


def links(text: str) -> list[str]:
    """The targets of the Markdown links of a page (inline code dropped, so a link whose text
    is code is still found and code that looks like a link is not)."""
    return _LINK.findall(_CODE.sub("", _prose(text)))


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated one numbered ``-1``, ``-2``, ...

    >>> sorted(anchors("# A title\\n## The engine, `recommender/`\\n## Notes\\n## Notes"))
    ['a-title', 'notes', 'notes-1', 'the-engine-recommender']
    """
    seen: dict[str, int] = {}
    out = set()
    for heading in _HEADING.findall(_prose(text)):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in links(page.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        # normalised, not resolved: ../shared may be a symlink, which must not move it
        resolved = Path(os.path.normpath(page.parent / path)) if path else page
        if not resolved.is_relative_to(ROOT):
            sibling = ROOT.parent / resolved.relative_to(ROOT.parent).parts[0]
            if not sibling.exists():  # a lone clone: ../shared is not beside it
                continue
        if not resolved.exists():
            problems.append(f"{target}: no such file {resolved}")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text()):
            problems.append(f"{target}: no heading #{fragment} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_every_docs_page_is_in_the_readme_index():
    readme_links = set(links((ROOT / "README.md").read_text()))
    missing = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in readme_links]
    assert missing == []


def test_readme_opens_with_the_two_fresh_machine_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[2] == "```bash" and lines[5] == "```"
    assert lines[3].startswith("make demo ") and lines[4].startswith("make test ")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.MULTILINE) and re.search(r"^test:", makefile,
                                                                     re.MULTILINE)


def test_the_link_checker_finds_a_broken_link(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Top\n[ok](a.md#top) [bad](b.md) [anchor](a.md#nope)\n"
                                   "`[code](c.md)`\n```\n[fenced](d.md)\n```\n")
    assert [p.split(":")[0] for p in broken_links(tmp_path / "a.md")] == ["b.md", "a.md#nope"]
