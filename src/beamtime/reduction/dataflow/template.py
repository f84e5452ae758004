"""Templates: the dataflow diagram as data (nodes and wires), checked before it runs."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from beamtime.reduction.dataflow.interface import ModuleDef

# The wires a template may have: ~100 times those of the largest predefined one, room for
# a chain of 1500 steps; more take long to check and look up, and mean nothing more.
MAX_WIRES = 2000


class TemplateError(ValueError):
    """A template that cannot run; ``node`` (index) and ``terminal`` say where."""

    def __init__(self, message: str, node: int | None = None, terminal: str | None = None):
        where = (
            f"node {node}" + (f" ({terminal})" if terminal else "") + ": "
            if node is not None
            else ""
        )
        super().__init__(where + message)
        self.node, self.terminal = node, terminal


@dataclass
class Template:
    name: str
    nodes: list[
        dict
    ]  # {"module": id, "title": str, "x": int, "y": int, "config": {control: value}}
    wires: list[dict]  # {"source": [node, terminal], "target": [node, terminal]}
    instrument: str = ""
    description: str = ""
    version: str = "1"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "instrument": self.instrument,
            "version": self.version,
            "nodes": self.nodes,
            "wires": self.wires,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Template":
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("nodes"), list)
            or not isinstance(data.get("wires"), list)
        ):
            raise TemplateError("a template is {name, nodes: [...], wires: [...]}")
        if len(data["wires"]) > MAX_WIRES:
            raise TemplateError(f"{len(data['wires'])} wires: a template has at most {MAX_WIRES}")
        return cls(
            str(data.get("name", "")),
            data["nodes"],
            data["wires"],
            str(data.get("instrument", "")),
            str(data.get("description", "")),
            str(data.get("version", "1")),
        )

    def check(self, modules: dict[str, ModuleDef]) -> None:
        """Unknown modules, a config that is no object, wires that join no existing nodes'
        terminals (a node is counted from the first), to unknown terminals or between wrong
        types, two wires into a single input, missing required inputs and cycles are errors
        naming the node or wire. A template checked against the same modules is not checked
        again."""
        if self.__dict__.get("_checked_with") is modules:
            return
        for index, node in enumerate(self.nodes):
            module = node.get("module") if isinstance(node, dict) else node
            if not isinstance(node, dict) or not isinstance(module, str) or module not in modules:
                raise TemplateError(f"unknown module {module!r}", index)
            if not isinstance(node.get("config", {}), dict):
                raise TemplateError("the config must be {parameter: value, …}", index, "config")
        into: dict[tuple[int, str], int] = {}
        for number, wire in enumerate(self.wires):
            ends = [wire.get("source"), wire.get("target")] if isinstance(wire, dict) else []
            if not ends or not all(self._is_terminal(end) for end in ends):
                raise TemplateError(
                    "a wire must join existing nodes, as {source: [node, terminal], target: "
                    f"[node, terminal]}}: wire {number} is {wire!r}"
                )
            (s_node, s_term), (t_node, t_term) = ends
            source, target = (
                modules[self.nodes[s_node]["module"]],
                modules[self.nodes[t_node]["module"]],
            )
            out = next((t for t in source.outputs if t.name == s_term), None)
            inp = next((t for t in target.inputs if t.name == t_term), None)
            if out is None:
                raise TemplateError(f"{source.id} has no output {s_term!r}", s_node, s_term)
            if inp is None:
                raise TemplateError(f"{target.id} has no input {t_term!r}", t_node, t_term)
            if out.datatype != inp.datatype:
                raise TemplateError(
                    f"a {out.datatype} output cannot feed a {inp.datatype} input", t_node, t_term
                )
            into[(t_node, t_term)] = into.get((t_node, t_term), 0) + 1
            if into[(t_node, t_term)] > 1 and not inp.multiple:
                raise TemplateError("takes one wire only", t_node, t_term)
        for index, node in enumerate(self.nodes):
            for terminal in modules[node["module"]].inputs:
                if terminal.required and (index, terminal.name) not in into:
                    raise TemplateError("required input is not wired", index, terminal.name)
        self.order()
        self._checked_with = modules

    def parents(self, index: int) -> list[dict]:
        return self._wires_into.get(index, [])

    @cached_property
    def _wires_into(self) -> dict[int, list[dict]]:
        into: dict[int, list[dict]] = {}
        for wire in self.wires:
            into.setdefault(wire["target"][0], []).append(wire)
        return into

    def sources(self, index: int) -> list[int]:
        """The nodes wired into node ``index``."""
        return [wire["source"][0] for wire in self.parents(index)]

    def _is_terminal(self, end) -> bool:
        """Whether a wire's end is [node, terminal] of a node there is (counted from the first;
        not a bool)."""
        return (
            isinstance(end, list)
            and len(end) == 2
            and type(end[0]) is int
            and 0 <= end[0] < len(self.nodes)
            and isinstance(end[1], str)
        )

    def order(self, targets: list[int] | None = None) -> list[int]:
        """The nodes ``targets`` need, each after its inputs (all nodes by default)."""
        return in_order(range(len(self.nodes)) if targets is None else targets, self.sources)


def in_order(targets: Iterable[int], sources: Callable[[int], list[int]]) -> list[int]:
    """``targets`` and the nodes they need, each after the nodes it takes inputs from
    (``sources``, asked once of each node): a depth-first walk without recursion, so a chain
    of thousands of steps is no deeper than one. TemplateError for a cycle, naming it."""
    done, result = set(), []
    for target in targets:
        if target in done:
            continue
        path, on_path, pending = [target], {target}, [iter(sources(target))]
        while path:
            source = next(pending[-1], None)
            if source is None:  # all its sources are done: so is it
                pending.pop()
                on_path.discard(path[-1])
                done.add(path[-1])
                result.append(path.pop())
            elif source in on_path:
                loop = path[path.index(source) :] + [source]
                raise TemplateError(f"the wires form a cycle: {' → '.join(map(str, loop))}", source)
            elif source not in done:
                path.append(source)
                on_path.add(source)
                pending.append(iter(sources(source)))
    return result
