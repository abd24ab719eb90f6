"""The README's table of supported ops, generated from the kernel tables.

    python -m qrun.optable            # print the table
    python -m qrun.optable README.md  # rewrite the table between the ops-table markers
"""
from __future__ import annotations

import sys
from pathlib import Path

BEGIN, END = "<!-- ops-table -->", "<!-- /ops-table -->"


def delegate_table() -> dict:
    """op -> dtype names the C delegate runs (empty while no delegate is built)."""
    try:
        from .delegate import support_table
    except ImportError:
        return {}
    return support_table()


def markdown_op_table() -> str:
    from .interpreter import kernels  # noqa: F401  (importing fills the kernel table)
    from .interpreter.registry import supported_table
    numpy_ops = supported_table()
    c_ops = delegate_table()
    lines = ["| op | numpy reference kernels | C delegate |", "|---|---|---|"]
    for op in sorted(set(numpy_ops) | set(c_ops)):
        lines.append("| %s | %s | %s |" % (op, ", ".join(numpy_ops.get(op, [])) or "-",
                                           ", ".join(c_ops.get(op, [])) or "-"))
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError("markers %s ... %s not found" % (BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + table + "\n" + END + tail


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    table = markdown_op_table()
    if not argv:
        print(table)
        return 0
    path = Path(argv[0])
    path.write_text(replace_between_markers(path.read_text(), table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
