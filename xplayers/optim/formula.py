"""An update rule's formula as a tiny expression tree, and the code each engine derives from it.

:func:`parse` turns a :class:`~xplayers.optim.specs.UpdateSpec`'s formula into a
:class:`Formula`: statements ``target = expression`` whose expressions are trees of
:class:`Name`, :class:`BinOp` and :class:`Call`. From it come

- :func:`evaluate`: the portable body, run with the operators of any Array-API namespace;
- :func:`python_loop_source`: a per-element loop for numba;
- :func:`cuda_operation`: the body of a CuPy ``ElementwiseKernel``;
- :func:`evaluate_blocked` (in :mod:`xplayers.optim.kernels`): NumPy ``out=`` ufuncs.

Every engine performs the same IEEE operations in the same order, so all give the same bits.
The loop and the kernel read every input into a local before writing any output, so they stay
correct even if an output shares memory with an input (the library never launches them so).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any

__all__ = ["BinOp", "Call", "Formula", "Name", "cuda_operation", "evaluate", "parse",
           "python_loop_source"]

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


@dataclass(frozen=True)
class Name:
    """An input array, a state array, a scalar, or a local assigned earlier."""

    id: str


@dataclass(frozen=True)
class BinOp:
    """``left op right`` with ``op`` one of ``+ - * /``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    """``func(arg)``: an elementwise function such as ``sqrt``."""

    func: str
    arg: Node


Node = Name | BinOp | Call


@dataclass(frozen=True)
class Formula:
    """A parsed formula.

    Attributes
    ----------
    statements : tuple of (target, expression)
    inputs : tuple of str
        ``('w', 'g', *state names)``: the arrays read.
    outputs : tuple of str
        ``('w_out', *('<state>_out'))``: the arrays written.
    scalars : tuple of str
        The host scalars, in order of first use (the kernels' argument order).
    functions : frozenset of str
        The functions called (an engine that lacks one declines the rule).
    """

    statements: tuple[tuple[str, Node], ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    scalars: tuple[str, ...]
    functions: frozenset[str]


def _node(tree: ast.AST, where: str) -> Node:
    if isinstance(tree, ast.Name):
        return Name(tree.id)
    if isinstance(tree, ast.BinOp) and type(tree.op) in _OPERATORS:
        return BinOp(_OPERATORS[type(tree.op)], _node(tree.left, where), _node(tree.right, where))
    if (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and len(tree.args) == 1
            and not tree.keywords):
        return Call(tree.func.id, _node(tree.args[0], where))
    raise ValueError(f"{where}: formula may use names, + - * /, parentheses and f(x) calls; "
                     f"got {ast.unparse(tree)!r}")


def _names(node: Node) -> list[str]:
    if isinstance(node, Name):
        return [node.id]
    if isinstance(node, BinOp):
        return _names(node.left) + _names(node.right)
    return _names(node.arg)


def _functions(node: Node) -> set[str]:
    if isinstance(node, BinOp):
        return _functions(node.left) | _functions(node.right)
    if isinstance(node, Call):
        return {node.func} | _functions(node.arg)
    return set()


@functools.cache
def parse(name: str, formula: str, state: tuple[str, ...]) -> Formula:
    """The :class:`Formula` of rule ``name`` whose state arrays are called ``state``.

    Raises
    ------
    ValueError
        For syntax outside the formula language, a name used before it is assigned, or an
        output not assigned exactly once.
    """
    where = f"update rule {name!r}"
    inputs = ("w", "g", *state)
    outputs = ("w_out", *(f"{s}_out" for s in state))
    statements: list[tuple[str, Node]] = []
    assigned: list[str] = []
    scalars: list[str] = []
    functions: set[str] = set()
    for stmt in ast.parse(formula).body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f"{where}: each statement must be 'name = expression', "
                             f"got {ast.unparse(stmt)!r}")
        target = stmt.targets[0].id
        if target in inputs or target in assigned:
            raise ValueError(f"{where}: {target!r} is assigned twice or is an input")
        node = _node(stmt.value, where)
        for used in _names(node):
            if used not in inputs and used not in assigned and used not in scalars:
                if used in outputs or used.endswith("_out"):
                    raise ValueError(f"{where}: {used!r} is used before it is assigned")
                scalars.append(used)
        functions |= _functions(node)
        statements.append((target, node))
        assigned.append(target)
    missing = [out for out in outputs if out not in assigned]
    if missing:
        raise ValueError(f"{where}: the formula never assigns {missing}")
    return Formula(tuple(statements), inputs, outputs, tuple(scalars), frozenset(functions))


def evaluate(formula: Formula, xp: Any, values: dict[str, Any]) -> tuple[Any, ...]:
    """The outputs, by evaluating each statement with ``xp``'s operators (the portable body).

    ``values`` maps the inputs to arrays and the scalars to Python floats (so float32 stays
    float32); functions are looked up on ``xp`` (``xp.sqrt``).
    """
    env = dict(values)

    def run(node: Node) -> Any:
        if isinstance(node, Name):
            return env[node.id]
        if isinstance(node, Call):
            return getattr(xp, node.func)(run(node.arg))
        left, right = run(node.left), run(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return left / right

    for target, node in formula.statements:
        env[target] = run(node)
    return tuple(env[out] for out in formula.outputs)


def render(node: Node, local: Any, functions: dict[str, str]) -> str:
    """``node`` as a fully parenthesised C/Python expression; ``local(name)`` spells names."""
    if isinstance(node, Name):
        return local(node.id)
    if isinstance(node, Call):
        return f"{functions[node.func]}({render(node.arg, local, functions)})"
    return (f"({render(node.left, local, functions)} {node.op} "
            f"{render(node.right, local, functions)})")


def python_loop_source(formula: Formula, func_name: str, functions: dict[str, str]) -> str:
    """A Python function ``func_name(*inputs, *outputs, *scalars)`` over 1-d arrays: one loop,
    each input element read into a local before any output element is written."""
    scalars = set(formula.scalars)

    def local(name: str) -> str:
        return name if name in scalars else f"{name}_"

    arguments = ", ".join((*formula.inputs, *formula.outputs, *formula.scalars))
    lines = [f"def {func_name}({arguments}):", "    for i in range(w.size):"]
    lines += [f"        {name}_ = {name}[i]" for name in formula.inputs]
    lines += [f"        {target}_ = {render(node, local, functions)}"
              for target, node in formula.statements]
    lines += [f"        {out}[i] = {out}_" for out in formula.outputs]
    return "\n".join(lines) + "\n"


def cuda_operation(formula: Formula, functions: dict[str, str],
                   loaded: tuple[str, ...] = ()) -> str:
    """The operation of a CuPy ``ElementwiseKernel`` whose arguments all have type ``T``:
    inputs copied into locals (except those in ``loaded``, whose ``<name>_`` the caller
    defines), the statements, then the outputs written."""
    scalars = set(formula.scalars)

    def local(name: str) -> str:
        return name if name in scalars else f"{name}_"

    lines = [f"const T {name}_ = {name};" for name in formula.inputs if name not in loaded]
    lines += [f"const T {target}_ = {render(node, local, functions)};"
              for target, node in formula.statements]
    lines += [f"{out} = {out}_;" for out in formula.outputs]
    return "\n".join(lines)
