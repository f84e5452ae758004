"""Evaluating a template: only the ancestors of the requested terminal, in order, each step
looked up in the cache by a key that hashes what determines its result.

Values flow as bundles (lists). Into a single input, a bundle maps the action over its items;
a multiple input receives the whole list in one call. A single output gives one item per
call; a multiple output returns the list itself. A step whose first input receives an empty
bundle passes an empty bundle on without running (as in reductus: an empty loader leaves its
branch empty); any other required input that receives nothing is an error naming it.
"""

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from beamtime.reduction.dataflow.interface import ModuleDef, ParameterError, check_control, define
from beamtime.reduction.dataflow.template import Template, TemplateError, in_order

log = logging.getLogger("beamtime.reduction")


@dataclass(frozen=True)
class DataType:
    """How values of one type are kept in the cache (``to_stored``: dicts, lists, strings,
    numbers, None and numpy arrays, as dataflow.stored encodes them; ``from_stored`` the
    inverse), shown (a plottable JSON form) and exported (named columns, and a few facts for
    the header)."""

    name: str
    # its values in words, plural ("polarization efficiencies"), for messages; else "<name> data"
    noun: str = ""
    to_stored: Callable = lambda value: value
    from_stored: Callable = lambda data: data
    display: Callable = lambda value: value
    columns: Callable = lambda value: {"value": [value]}
    metadata: Callable = lambda value: {}
    # (values, provenance header) → ORSO reflectivity text, for types that are reflectivity
    orso: Callable | None = None
    # how many points a value holds: the measure of a light step's inputs (see calculate)
    points: Callable = lambda value: 1


@dataclass
class Registry:
    """The modules and data types of an instrument."""

    instrument: str
    datatypes: dict[str, DataType] = field(default_factory=dict)
    modules: dict[str, ModuleDef] = field(default_factory=dict)
    # What a raw file holds, for the file browser: (bytes, name) → a JSON-ready summary.
    describe_file: Callable | None = None

    def module(self, function=None, *, light: bool = False):
        """Decorator: register ``function`` as module ``INSTRUMENT.NAME``. ``light`` (as
        ``@module(light=True)``) marks a step that does a few array operations per point — no
        fit, no file, no loop over points —, which a web process may compute (see
        calculate's ``light``)."""
        if function is None:
            return lambda function: self.module(function, light=light)
        definition = define(function, f"{self.instrument}.{function.__name__}")
        definition = dataclasses.replace(definition, light=light)
        for terminal in (*definition.inputs, *definition.outputs):
            if terminal.datatype not in self.datatypes:
                raise ValueError(f"module {definition.id}: unknown data type {terminal.datatype!r}")
        self.modules[definition.id] = definition
        return function


def step_key(module: ModuleDef, controls: dict, input_keys: list) -> str:
    """The cache key of one step: module id, version and code, controls, its inputs' keys."""
    text = json.dumps(
        [module.id, module.version, module.code, controls, input_keys], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


class NotCached(Exception):
    """The result asked for is not in the cache, and the caller would not compute it here."""

    def __init__(self, key: str):
        super().__init__(f"step {key} is not cached")
        self.key = key


class MemoryCache(dict):
    """A cache that lives as long as the process (for scripts and tests)."""

    def get_bundle(self, key):
        return self.get(key)

    def set_bundle(self, key, data):
        self[key] = data


def controls_of(template: Template, index: int, module: ModuleDef, config: dict | None) -> dict:
    """Defaults, then the node's own values, then the run's config for that node."""
    values = {c.name: c.default for c in module.controls}
    values.update(template.nodes[index].get("config", {}))
    values.update((config or {}).get(str(index), {}))
    unknown = set(values) - {c.name for c in module.controls}
    if unknown:
        raise TemplateError(
            f"{module.id} has no parameter {sorted(unknown)[0]!r}", index, sorted(unknown)[0]
        )
    try:
        return {c.name: check_control(c, values[c.name]) for c in module.controls}
    except ParameterError as exc:
        raise TemplateError(exc.problem, index, exc.parameter) from None


def plan(
    template: Template, registry: Registry, target: int | None, config: dict | None = None
) -> dict[int, str]:
    """The cache key of every node the target needs (of every node, for target None)."""
    template.check(registry.modules)
    keys: dict[int, str] = {}
    for index in template.order(None if target is None else [target]):
        module = registry.modules[template.nodes[index]["module"]]
        inputs = sorted(
            (w["target"][1], keys[w["source"][0]], w["source"][1]) for w in template.parents(index)
        )
        keys[index] = step_key(module, controls_of(template, index, module, config), inputs)
    return keys


def calculate(
    template: Template,
    registry: Registry,
    target: int,
    terminal: str,
    cache,
    config: dict | None = None,
    compute: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    light: int = 0,
    recent=None,
) -> list:
    """The bundle at ``target``'s output ``terminal``, computing only what the cache lacks.
    With ``compute`` False, NotCached rather than any computing — except of light steps
    (Registry.module) whose inputs hold at most ``light`` points, when every step to compute
    is one. ``progress(number, count, module id)`` hears of each step before it is computed.
    ``recent`` (cache.Recent), if given, keeps decoded results: found there, a step's result
    is neither read from the cache nor decoded."""
    keys = plan(template, registry, target, config)
    memo: dict[int, dict[str, list]] = {}
    known = cache if recent is None else Either(recent, cache)
    if not compute and keys[target] not in known:
        missing = uncached(template, keys, target, known) if light else []
        if not missing or not all(
            registry.modules[template.nodes[i]["module"]].light for i in missing
        ):
            raise NotCached(keys[target])
    todo = uncached(template, keys, target, known) if progress else []

    def points(values: dict[str, list], terminals) -> int:
        return sum(
            registry.datatypes[t.datatype].points(v) for t in terminals for v in values[t.name]
        )

    def known(index: int) -> bool:
        """Whether node ``index``'s result is at hand (decoded in ``memo``) without computing."""
        module = registry.modules[template.nodes[index]["module"]]
        if recent is not None and (found := recent.get(keys[index])) is not None:
            memo[index] = found
            return True
        stored = cache.get_bundle(keys[index])
        if stored is None:
            return False
        memo[index] = {
            t.name: [registry.datatypes[t.datatype].from_stored(v) for v in stored[t.name]]
            for t in module.outputs
        }
        if recent is not None:
            recent.put(keys[index], memo[index], points(memo[index], module.outputs))
        return True

    def computed(index: int) -> None:
        """Compute node ``index`` into ``memo`` from its sources' results, in ``memo``."""
        module = registry.modules[template.nodes[index]["module"]]
        if not compute and not module.light:  # evicted since the check above
            raise NotCached(keys[index])
        inputs = {t.name: [] for t in module.inputs}
        for wire in template.parents(index):
            inputs[wire["target"][1]].extend(memo[wire["source"][0]][wire["source"][1]])
        if not compute and points(inputs, module.inputs) > light:
            raise NotCached(keys[target])  # too large for a light step here
        if progress:
            progress(todo.index(index) + 1 if index in todo else len(todo), len(todo), module.id)
        try:
            result = run_step(module, inputs, controls_of(template, index, module, config))
        except ParameterError as exc:
            raise TemplateError(exc.problem, index, exc.parameter) from exc
        except Exception as exc:  # the module's own complaint, said on its node
            log.exception("node %s (%s) failed", index, module.id)  # the traceback for operators
            raise TemplateError(f"{module.id} failed: {exc}", index) from exc
        cache.set_bundle(
            keys[index],
            {
                t.name: [registry.datatypes[t.datatype].to_stored(v) for v in result[t.name]]
                for t in module.outputs
            },
        )
        if recent is not None:
            recent.put(keys[index], result, points(result, module.outputs))
        memo[index] = result

    # the target's ancestors as far back as the results at hand, each after its sources
    for index in in_order([target], lambda i: [] if known(i) else template.sources(i)):
        if index not in memo:
            computed(index)
    return memo[target][terminal]


class Either:
    """Whether a key is in either of two caches."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __contains__(self, key: str) -> bool:
        return key in self.first or key in self.second


def uncached(template: Template, keys: dict[int, str], target: int, cache) -> list[int]:
    """The steps a calculation of ``target`` computes, in the order it computes them: those
    not cached whose result is needed (an ancestor of a cached step is not)."""
    cached = set()

    def sources(index: int) -> list[int]:
        if keys[index] in cache:
            cached.add(index)
            return []
        return template.sources(index)

    return [index for index in in_order([target], sources) if index not in cached]


def run_step(module: ModuleDef, inputs: dict[str, list], controls: dict) -> dict[str, list]:
    """Call the action once per item of the single inputs (broadcasting bundles of one)."""
    results = {t.name: [] for t in module.outputs}
    if module.inputs and not inputs[module.inputs[0].name]:
        return results  # nothing in, nothing out
    for t in module.inputs:
        if t.required and not inputs[t.name]:
            raise ParameterError(t.name, "nothing arrived here (is the step before it empty?)")
    singles = [t for t in module.inputs if not t.multiple]
    sizes = {len(inputs[t.name]) for t in singles if inputs[t.name]}
    if len(sizes - {1}) > 1:
        raise ValueError(f"bundles of different sizes {sorted(sizes)} cannot be paired")
    count = max(sizes, default=1)
    for item in range(count):
        args = []
        for t in module.inputs:
            bundle = inputs[t.name]
            if t.multiple:
                args.append(bundle)
            else:
                args.append(bundle[item if len(bundle) > 1 else 0] if bundle else None)
        value = module.action(*args, **controls)
        values = value if len(module.outputs) > 1 else (value,)
        for t, v in zip(module.outputs, values, strict=True):
            if t.multiple:
                results[t.name].extend(v)
            else:
                results[t.name].append(v)
    return results
