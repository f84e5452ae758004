"""Constraints: one model parameter as an arithmetic expression of others, e.g.
``B.thickness = 0.1 * A.thickness + 5``.

User text is parsed with ``ast.parse`` and then checked against a whitelist: numbers,
parameter names (``LAYER.param``, ``scale``, ``background``), + - * / **, unary minus and
plus, and the functions in FUNCTIONS. It is never executed: ``compile`` walks the checked
tree and builds a bumps expression from Parameter arithmetic, which bumps evaluates lazily
whenever the parameters it refers to change. No Django here.
"""

import ast
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
from bumps import pmath
from bumps.parameter import Parameter  # importing it fills bumps.pmath with sqrt, exp, …

MAX_LENGTH = 200
MAX_DEPTH = 20  # levels of the syntax tree
# Levels of a chain of constraints (one computed from another computed from another…), each
# counting its expression's levels: bumps evaluates a chain by recursion, which breaks near
# 350 levels (e.g. 20 constraints nested 20 deep, or 175 of the form ``A.x + 1``).
MAX_CHAIN_DEPTH = 200
MAX_EXPONENT = 10
MAX_NUMBER = 1e12
BARE_NAMES = ("scale", "background", "guide_angle", "guide_field")
PARAMS = ("thickness", "sld", "isld", "roughness", "rhoM", "thetaM")  # as layers.Layer

# Each works on a float (giving a number) and on a bumps Parameter or expression (giving a
# bumps expression that evaluates later); bumps' pmath has no abs, but Parameters define
# __abs__. Only what is listed here can be called.
FUNCTIONS: dict[str, Callable] = {
    "sqrt": pmath.sqrt,
    "exp": pmath.exp,
    "log": pmath.log,
    "sin": pmath.sin,
    "cos": pmath.cos,
    "tan": pmath.tan,
    "abs": abs,
}
BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
# What users read when they wrote something else than arithmetic.
DESCRIPTION = {
    ast.Lambda: "lambda",
    ast.IfExp: "a conditional (if … else)",
    ast.Compare: "a comparison",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.NamedExpr: "':='",
    ast.Subscript: "indexing",
    ast.Slice: "a slice",
    ast.Starred: "'*'",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
}
OPERATOR = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
    ast.And: "and",
    ast.Or: "or",
}


class ConstraintError(ValueError):
    """An invalid constraint: a one-line message naming the target and the problem;
    ``field`` is ``constraints.TARGET`` (``constraints`` when the target itself is bad)."""

    def __init__(self, target: str | None, problem: str):
        self.field = "constraints" if target is None else f"constraints.{target}"
        super().__init__(problem if target is None else f"constraint on {target}: {problem}")


@dataclass(frozen=True)
class Constraint:
    target: str  # "B.thickness": LAYER.param, or "scale" or "background"
    expression: str  # "0.1 * A.thickness + 5"


def parse(target: str, expression: str, names: set[str]) -> Constraint:
    """Check ``target = expression`` against the model's parameter ``names``; return the
    constraint (its expression stripped) or raise ConstraintError."""
    if not isinstance(target, str) or target not in names:
        raise ConstraintError(None, f"{_quote(target)} is not a parameter of the model")
    return Constraint(target, _checked(target, expression, names)[0])


def references(c: Constraint) -> set[str]:
    """The parameter names the constraint's expression uses."""
    return _checked(c.target, c.expression, None)[2].references


def check_all(constraints: Iterable[Constraint], names: set[str]) -> None:
    """Check each constraint, that no target is constrained twice and that no constraint
    depends on itself through others, nor through a chain deeper than MAX_CHAIN_DEPTH. Whether
    a target is also free is the caller's check."""
    graph: dict[str, set[str]] = {}
    depth: dict[str, int] = {}
    for c in constraints:
        parse(c.target, c.expression, names)
        if c.target in graph:
            raise ConstraintError(c.target, "the parameter is constrained twice")
        checker = _checked(c.target, c.expression, None)[2]
        graph[c.target], depth[c.target] = checker.references, checker.depth
    cycle = _cycle(graph)
    if cycle:
        raise ConstraintError(cycle[0], f"the constraints form a cycle: {' → '.join(cycle)}")
    chains = _chains(graph, depth)
    target = max(sorted(chains), key=lambda name: chains[name][1], default=None)
    if target is not None and chains[target][1] > MAX_CHAIN_DEPTH:
        length, levels = chains[target]
        raise ConstraintError(
            target,
            f"constraints nest too deeply: {target} depends on a chain of {length} constraints, "
            f"{levels} levels deep counting their expressions' (at most {MAX_CHAIN_DEPTH})",
        )


def compile(c: Constraint, parameters: dict[str, Parameter]):
    """The bumps value for ``c``: an Expression (or a Parameter or float) built from the
    bumps Parameters in ``parameters`` (keyed by our names, e.g. ``A.thickness``). Attach
    it with ``parameters[c.target].equals(value)``; ``apply`` does that for a list."""
    _, tree, _ = _checked(c.target, c.expression, set(parameters))
    return _build(tree, parameters)


def apply(constraints: Iterable[Constraint], parameters: dict[str, Parameter]) -> None:
    """Check the constraints and tie each target Parameter to its expression, so bumps
    recomputes it from the others at every step (and no longer fits it)."""
    constraints = list(constraints)
    check_all(constraints, set(parameters))
    for c in constraints:
        parameters[c.target].equals(compile(c, parameters))


def _checked(target: str, expression: str, names: set[str] | None):
    """Parse and check; return (stripped text, tree, the _Checker: references, depth)."""
    if not isinstance(expression, str):
        raise ConstraintError(target, "the expression must be text")
    text = expression.strip()
    if not text:
        raise ConstraintError(target, "the expression is empty")
    if any(c in text for c in "\r\n\v\f\x85\u2028\u2029"):  # a script writes it on one line
        raise ConstraintError(target, "the expression must be on one line")
    if len(text) > MAX_LENGTH:
        raise ConstraintError(
            target, f"the expression is too long ({len(text)} characters, at most {MAX_LENGTH})"
        )
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        raise ConstraintError(target, _syntax_problem(text, error)) from None
    except (ValueError, MemoryError, RecursionError):
        raise ConstraintError(target, "the expression cannot be read") from None
    checker = _Checker(target, text, names)
    checker.reject_dunder_names(tree)
    checker.check(tree, 1)
    return text, tree, checker


class _Checker:
    def __init__(self, target: str, text: str, names: set[str] | None):
        self.target, self.text, self.names = target, text, names
        self.layers = None if names is None else {n.split(".")[0] for n in names if "." in n}
        self.references: set[str] = set()
        self.depth = 0  # the tree's levels

    def fail(self, problem: str) -> NoReturn:
        raise ConstraintError(self.target, problem)

    def source(self, node: ast.AST) -> str:
        return _quote(ast.get_source_segment(self.text, node) or ast.unparse(node))

    def reject_dunder_names(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id.startswith("__"):
                self.fail(f"name {node.id!r} is not allowed")
            if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
                self.fail(f"attribute {node.attr!r} is not a parameter")

    def reference(self, name: str) -> None:
        if name == self.target:
            self.fail(f"the expression refers to {name} itself")
        if self.names is not None and name not in self.names:
            layer, _, param = name.partition(".")
            if param and layer not in self.layers:
                self.fail(f"there is no layer {layer!r}")
            self.fail(f"{name!r} is not a parameter")
        self.references.add(name)

    def check(self, node: ast.expr, depth: int) -> float | None:
        """Check ``node``; return its value if it is a constant, None if it uses parameters."""
        if depth > MAX_DEPTH:
            self.fail(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        self.depth = max(self.depth, depth)
        match node:
            case ast.Constant(value=value):
                if type(value) not in (int, float):
                    self.fail(f"{self.source(node)} is not a number")
                if not abs(value) <= MAX_NUMBER:
                    self.fail(f"the number {self.source(node)} is too large (at most 1e12)")
                return float(value)
            case ast.Name(id=name):
                if name not in BARE_NAMES:
                    self.fail(
                        f"{name!r} is not a parameter (write LAYER.{'/'.join(PARAMS)}, "
                        f"{' or '.join(BARE_NAMES)})"
                    )
                self.reference(name)
                return None
            case ast.Attribute(value=ast.Name(id=layer), attr=param):
                self.reference(f"{layer}.{param}")
                return None
            case ast.Attribute():
                self.fail(f"{self.source(node)} is not a parameter")
            case ast.UnaryOp(op=ast.USub() | ast.UAdd()):
                return self.fold(node, [self.check(node.operand, depth + 1)])
            case ast.BinOp(op=op) if type(op) in BINARY:
                args = [self.check(node.left, depth + 1), self.check(node.right, depth + 1)]
                if isinstance(op, ast.Pow):
                    if args[1] is None:
                        self.fail(f"the exponent in {self.source(node)} must be a number")
                    if abs(args[1]) > MAX_EXPONENT:
                        self.fail(
                            f"the exponent {self.source(node.right)} is too large "
                            f"(at most {MAX_EXPONENT} in magnitude)"
                        )
                return self.fold(node, args)
            case ast.Call(func=ast.Name(id=name)) if name in FUNCTIONS:
                if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
                    self.fail(f"{name}() takes exactly one argument: {self.source(node)}")
                return self.fold(node, [self.check(node.args[0], depth + 1)])
            case ast.Call(func=ast.Name(id=name)):
                self.fail(f"function {name!r} is not allowed (only {', '.join(FUNCTIONS)})")
            case ast.Call(func=func):
                self.check(func, depth + 1)
                self.fail(f"calling {self.source(func)} is not allowed")
            case ast.UnaryOp(op=op) | ast.BinOp(op=op) | ast.BoolOp(op=op):
                self.fail(f"operator {OPERATOR[type(op)]!r} is not allowed: {self.source(node)}")
            case _:
                what = DESCRIPTION.get(type(node), type(node).__name__)
                self.fail(f"{what} is not allowed: {self.source(node)}")

    def fold(self, node: ast.expr, args: list[float | None]) -> float | None:
        """The value of an operation on constants, computed now to catch 1/0, log(-1) or
        overflow; None when an argument depends on parameters."""
        if any(arg is None for arg in args):
            return None
        try:
            value = _combine(node, args)
        except (ArithmeticError, ValueError) as error:
            self.fail(f"{self.source(node)} cannot be computed ({error})")
        if not math.isfinite(value):
            self.fail(f"{self.source(node)} is too large")
        return value


def _combine(node: ast.expr, args: list):
    """One checked operation on numbers (giving a float) or on bumps values (an expression)."""
    if all(isinstance(arg, float) for arg in args):
        # numpy (behind pmath) warns on log(0) or overflow; make it an error instead
        with np.errstate(all="raise"):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                return math.pow(*args)  # float ** gives a complex for (-8) ** (1/3)
            return float(_operation(node)(*args))
    return _operation(node)(*args)


def _operation(node: ast.expr) -> Callable:
    match node:
        case ast.UnaryOp(op=ast.USub()):
            return operator.neg
        case ast.UnaryOp():
            return operator.pos
        case ast.BinOp(op=op):
            return BINARY[type(op)]
        case ast.Call(func=ast.Name(id=name)):
            return FUNCTIONS[name]
    raise AssertionError(f"unchecked node {ast.dump(node)}")


def _build(node: ast.expr, parameters: dict[str, Parameter]):
    match node:
        case ast.Constant(value=value):
            return float(value)
        case ast.Name(id=name):
            return parameters[name]
        case ast.Attribute(value=ast.Name(id=layer), attr=param):
            return parameters[f"{layer}.{param}"]
        case ast.UnaryOp(op=ast.UAdd()):
            return _build(node.operand, parameters)
        case ast.UnaryOp():
            return _combine(node, [_build(node.operand, parameters)])
        case ast.BinOp():
            return _combine(node, [_build(node.left, parameters), _build(node.right, parameters)])
        case ast.Call():
            return _combine(node, [_build(node.args[0], parameters)])
    raise AssertionError(f"unchecked node {ast.dump(node)}")


SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def to_python(c: Constraint, places: dict[str, str]) -> str:
    """The checked expression as Python source for a refl1d script, each parameter name
    replaced by where the script keeps it (``places``), e.g. ``sample[2].thickness``."""
    _, tree, _ = _checked(c.target, c.expression, set(places))

    def code(node: ast.expr) -> str:
        match node:
            case ast.Constant(value=value):
                return repr(float(value))
            case ast.Name(id=name):
                return places[name]
            case ast.Attribute(value=ast.Name(id=layer), attr=param):
                return places[f"{layer}.{param}"]
            case ast.UnaryOp(op=ast.USub()):
                return f"(-{code(node.operand)})"
            case ast.UnaryOp():
                return code(node.operand)
            case ast.BinOp(op=op):
                return f"({code(node.left)} {SYMBOLS[type(op)]} {code(node.right)})"
            case ast.Call(func=ast.Name(id=name)):
                function = "abs" if name == "abs" else f"pmath.{name}"
                return f"{function}({code(node.args[0])})"
        raise AssertionError(f"unchecked node {ast.dump(node)}")

    return code(tree)


def rename(text: str, names: dict[str, str]) -> str:
    """``text`` (a target or an expression) with each parameter ``LAYER.param`` found in
    ``names`` replaced by its new name, all at once (``A.x → B.x`` and ``B.x → C.x`` do not
    chain). Text that is not an expression comes back unchanged."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return text
    lines = text.strip().split("\n")
    found = [
        (node.lineno, node.col_offset, node.end_col_offset, names[f"{node.value.id}.{node.attr}"])
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and f"{node.value.id}.{node.attr}" in names
        and node.lineno == node.end_lineno
    ]
    for line, start, end, new in sorted(found, reverse=True):
        # offsets count UTF-8 bytes
        raw = lines[line - 1].encode()
        lines[line - 1] = (raw[:start] + new.encode() + raw[end:]).decode()
    return "\n".join(lines)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A dependency cycle among the constrained targets, first name repeated at the end."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done or name not in graph:
            return None
        for used in sorted(graph[name]):
            found = visit(used, [*path, name])
            if found:
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def _chains(graph: dict[str, set[str]], depth: dict[str, int]) -> dict[str, tuple[int, int]]:
    """For each target of an acyclic ``graph``, its deepest chain of constraints: (how many,
    their expressions' levels summed). Without recursion: a chain can be 600 long."""
    found: dict[str, tuple[int, int]] = {}
    for start in sorted(graph):
        stack = [start]
        while stack:
            name = stack[-1]
            pending = [used for used in graph[name] if used in graph and used not in found]
            if pending:
                stack += pending
                continue
            stack.pop()
            below = [found[used] for used in graph[name] if used in graph]
            length, levels = max(below, key=lambda chain: chain[1], default=(0, 0))
            found[name] = (length + 1, levels + depth[name])
    return found


def _syntax_problem(text: str, error: SyntaxError) -> str:
    lines = text.split("\n")
    if error.lineno and error.offset and 0 < error.lineno <= len(lines):
        rest = lines[error.lineno - 1][error.offset - 1 :]
        return f"{error.msg} at {_quote(rest) if rest else 'the end'}"
    return f"{error.msg} in {_quote(text)}"


def _quote(text) -> str:
    """A short one-line rendering of user text for a message."""
    text = text if isinstance(text, str) else type(text).__name__
    return repr(text if len(text) <= 40 else text[:39] + "…")
