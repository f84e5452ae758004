"""Templates: the dataflow diagram as data (nodes and wires), checked before it runs."""

from dataclasses import dataclass, field
from functools import cached_property

from beamtime.reduction.dataflow.interface import ModuleDef


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
        return cls(
            str(data.get("name", "")),
            data["nodes"],
            data["wires"],
            str(data.get("instrument", "")),
            str(data.get("description", "")),
            str(data.get("version", "1")),
        )

    def check(self, modules: dict[str, ModuleDef]) -> None:
        """Unknown modules, wires to unknown terminals or between wrong types, two wires into a
        single input, missing required inputs and cycles are errors naming the node. A
        template checked against the same modules is not checked again."""
        if self.__dict__.get("_checked_with") is modules:
            return
        for index, node in enumerate(self.nodes):
            if not isinstance(node, dict) or node.get("module") not in modules:
                raise TemplateError(
                    f"unknown module {node.get('module') if isinstance(node, dict) else node!r}",
                    index,
                )
        into: dict[tuple[int, str], int] = {}
        for wire in self.wires:
            try:
                (s_node, s_term), (t_node, t_term) = wire["source"], wire["target"]
                source, target = (
                    modules[self.nodes[s_node]["module"]],
                    modules[self.nodes[t_node]["module"]],
                )
            except (KeyError, TypeError, ValueError, IndexError):
                raise TemplateError(f"a wire must join existing nodes: {wire!r}") from None
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

    def order(self, targets: list[int] | None = None) -> list[int]:
        """The nodes ``targets`` need, each after its inputs (all nodes by default)."""
        wanted = range(len(self.nodes)) if targets is None else targets
        done, visiting, result = set(), [], []

        def visit(index: int):
            if index in done:
                return
            if index in visiting:
                loop = visiting[visiting.index(index) :] + [index]
                raise TemplateError(f"the wires form a cycle: {' → '.join(map(str, loop))}", index)
            visiting.append(index)
            for wire in self.parents(index):
                visit(wire["source"][0])
            visiting.pop()
            done.add(index)
            result.append(index)

        for index in wanted:
            visit(index)
        return result
