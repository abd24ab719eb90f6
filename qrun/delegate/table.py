"""THE delegate op table: op name -> support rule and plan builder.

A support rule `rule(op) -> None | str` returns None when the C kernels run `op` (its
tensor types, quantization, parameters and static weights), else the reason why not.
A plan builder `build(op, ctx) -> (kind, params)` (or a list of them) turns a supported op
into executor nodes (see plan.PlanContext). Adding an op = a rule + a builder registered
here + a C kernel (kernels_c/README.md). The partitioner and the README's op table both read
this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

SupportRule = Callable[..., Optional[str]]
PlanBuilder = Callable[..., tuple]


@dataclass(frozen=True)
class DelegateOp:
    name: str
    rule: SupportRule
    build: PlanBuilder
    summary: str


OPS: Dict[str, DelegateOp] = {}


def delegate_op(name: str, rule: SupportRule, summary: str):
    """Decorator on a plan builder: registers `name` with its support rule."""
    def wrap(build: PlanBuilder) -> PlanBuilder:
        if name in OPS:
            raise RuntimeError("delegate op %s registered twice" % name)
        OPS[name] = DelegateOp(name, rule, build, summary)
        return build
    return wrap


def unsupported_reason(op) -> Optional[str]:
    entry = OPS.get(op.opname)
    if entry is None:
        return "no C kernel for %s" % op.opname
    return entry.rule(op)


def support_table() -> Dict[str, List[str]]:
    """op name -> [what the C kernels cover: types first], for the README's op table."""
    return {name: [OPS[name].summary] for name in sorted(OPS)}
