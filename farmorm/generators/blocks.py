"""``replace_generated_block``: keep generated text inside marker comments of a hand-edited file.

The markers are the reference's (``// @farming-labs/orm:start:<label>`` …
``// @farming-labs/orm:end:<label>``) so files written by either tool stay interchangeable.
A marker only counts as a whole line, so label ``prisma`` never matches ``prisma2``.
"""

from __future__ import annotations

START = "// @farming-labs/orm:start:"
END = "// @farming-labs/orm:end:"


def block_markers(label: str) -> tuple[str, str]:
    """The start and end marker lines of the block named ``label``."""
    return f"{START}{label}", f"{END}{label}"


def _find_line(text: str, marker: str, pos: int = 0) -> int:
    """Index of ``marker`` occurring as a whole line (trailing spaces allowed) from ``pos``, or -1."""
    while True:
        i = text.find(marker, pos)
        if i < 0:
            return -1
        before_ok = i == 0 or text[i - 1] in "\r\n"
        rest = text[i + len(marker):]
        line_rest = rest.split("\n", 1)[0].rstrip("\r")
        if before_ok and not line_rest.strip():
            return i
        pos = i + 1


def replace_generated_block(*, current: str, label: str, content: str) -> str:
    """Replace the ``label`` block of ``current`` with ``content``, or append the block at the end."""
    start, end = block_markers(label)
    block = f"{start}\n{content.strip()}\n{end}"
    i = _find_line(current, start)
    if i >= 0:
        j = _find_line(current, end, i + len(start))
        if j >= 0:
            return current[:i] + block + current[j + len(end):]
    head = current.strip()
    return f"{head}\n\n{block}\n" if head else f"{block}\n"


__all__ = ["replace_generated_block", "block_markers"]
