"""The README's op table is the one the kernel tables generate (python -m qrun.optable README.md)."""
from __future__ import annotations

from pathlib import Path

from qrun.interpreter.registry import supported_table
from qrun.optable import BEGIN, END, markdown_op_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_op_table_is_generated_from_the_kernel_tables():
    text = README.read_text()
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == markdown_op_table(), "run: python -m qrun.optable README.md"


def test_op_table_lists_every_registered_kernel():
    rows = {line.split("|")[1].strip(): line for line in markdown_op_table().splitlines()[2:]}
    for op, dtypes in supported_table().items():
        assert op in rows
        for dt in dtypes:
            assert dt in rows[op].split("|")[2]
