"""The dataflow engine on a toy instrument: definitions from docstrings, checked templates,
bundles, and a cache that recomputes only what a change affects (module calls counted)."""

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamtime.reduction.dataflow.cache import DiskCache, Recent, WriteBehind
from beamtime.reduction.dataflow.calc import (
    DataType,
    MemoryCache,
    NotCached,
    Registry,
    calculate,
    plan,
)
from beamtime.reduction.dataflow.interface import (
    ModuleDefinitionError,
    ParameterError,
    Terminal,
    check_control,
    define,
)
from beamtime.reduction.dataflow.stored import encode
from beamtime.reduction.dataflow.template import Template, TemplateError

calls = Counter()
toy = Registry("toy", datatypes={"number": DataType("number"), "text": DataType("text")})


@toy.module
def load(values=(1.0,)):
    """
    Numbers out of thin air, one per value.

    **Inputs**

    values (float[]:counts) : the numbers [1.0]

    **Returns**

    output (number[]) : one number per value

    Author: test
    Version: 1
    """
    calls["load"] += 1
    return list(values)


@toy.module
def scale(data, factor=2.0):
    """
    Multiply.

    **Inputs**

    data (number) : a number

    factor (float) : the factor [2.0]

    **Returns**

    output (number) : data times factor

    Author: test
    Version: 1
    """
    calls["scale"] += 1
    if factor < 0:
        raise ParameterError("factor", "must not be negative")
    if abs(data * factor) == float("inf"):
        raise OverflowError("overflow")
    return data * factor


@toy.module
def total(data):
    """
    Add up a bundle.

    **Inputs**

    data (number[]) : numbers

    **Returns**

    output (number) : their sum

    Author: test
    Version: 1
    """
    calls["total"] += 1
    return sum(data)


@toy.module
def label(data):
    """
    A number as text.

    **Inputs**

    data (number) : a number

    **Returns**

    output (text) : it, written

    Author: test
    Version: 1
    """
    return f"{data:g}"


@toy.module
def difference(data, other):
    """
    Subtract.

    **Inputs**

    data (number) : a number

    other (number) : another

    **Returns**

    output (number) : data less other

    Author: test
    Version: 1
    """
    return data - other


@toy.module(light=True)
def offset(data, by=1.0):
    """
    Add.

    **Inputs**

    data (number) : a number

    by (float) : what to add [1.0]

    **Returns**

    output (number) : data plus by

    Author: test
    Version: 1
    """
    calls["offset"] += 1
    return data + by


def chain(values=(1.0, 2.0, 3.0)) -> Template:
    return Template(
        "chain",
        nodes=[
            {"module": "toy.load", "config": {"values": list(values)}},
            {"module": "toy.scale", "config": {"factor": 10.0}},
            {"module": "toy.total"},
        ],
        wires=[
            {"source": [0, "output"], "target": [1, "data"]},
            {"source": [1, "output"], "target": [2, "data"]},
        ],
    )


@pytest.fixture(autouse=True)
def _count():
    calls.clear()


def test_the_definition_comes_from_the_signature_and_docstring():
    definition = toy.modules["toy.scale"]
    assert [t.name for t in definition.inputs] == ["data"]
    factor = definition.controls[0]
    assert (factor.name, factor.datatype, factor.default, factor.required) == (
        "factor",
        "float",
        2.0,
        False,
    )
    assert (definition.version, definition.author) == ("1", "test")
    assert toy.modules["toy.load"].controls[0].units == "counts"
    assert toy.modules["toy.total"].inputs[0].multiple is True


def test_bundles_map_single_inputs_and_pass_lists_to_multiple_ones():
    assert calculate(chain(), toy, 1, "output", MemoryCache()) == [10.0, 20.0, 30.0]
    assert calls["scale"] == 3
    assert calculate(chain(), toy, 2, "output", MemoryCache()) == [60.0]


def test_an_empty_bundle_passes_nothing_on_without_running_the_steps_it_feeds():
    assert calculate(chain(values=()), toy, 2, "output", MemoryCache()) == []
    assert calls["scale"] == calls["total"] == 0


def test_nothing_arriving_at_a_later_required_input_names_it():
    template = Template(
        "pair",
        nodes=[
            {"module": "toy.load", "config": {"values": [5.0]}},
            {"module": "toy.load", "config": {"values": []}},
            {"module": "toy.difference"},
        ],
        wires=[
            {"source": [0, "output"], "target": [2, "data"]},
            {"source": [1, "output"], "target": [2, "other"]},
        ],
    )
    with pytest.raises(TemplateError, match=r"node 2 \(other\): nothing arrived here") as caught:
        calculate(template, toy, 2, "output", MemoryCache())
    assert caught.value.terminal == "other"


def test_only_the_changed_node_and_its_descendants_are_computed_again(tmp_path):
    cache = DiskCache(tmp_path)
    template = chain()
    calculate(template, toy, 2, "output", cache)
    assert calls == {"load": 1, "scale": 3, "total": 1}
    calls.clear()
    assert calculate(template, toy, 2, "output", cache) == [60.0]
    assert calls == {}  # fully cached
    calls.clear()
    assert calculate(template, toy, 2, "output", cache, config={"1": {"factor": 1.0}}) == [6.0]
    assert calls == {"scale": 3, "total": 1}  # load was cached
    calls.clear()
    assert calculate(
        template, toy, 2, "output", DiskCache(tmp_path), config={"1": {"factor": 1.0}}
    ) == [6.0]
    assert calls == {}  # a new process would find the disk cache


def test_a_write_behind_cache_writes_the_steps_when_flushed(tmp_path, caplog):
    disk = DiskCache(tmp_path)
    behind = WriteBehind(disk)
    template = chain()
    assert calculate(template, toy, 2, "output", behind) == [60.0]
    keys = plan(template, toy, 2)
    assert all(key in behind and key not in disk for key in keys.values())  # held, readable
    behind.flush()
    assert all(key in disk for key in keys.values())
    calls.clear()
    assert calculate(template, toy, 2, "output", DiskCache(tmp_path)) == [60.0]
    assert calls == {}  # everything was written

    class Full(MemoryCache):
        def set_bundle(self, key, data):
            raise OSError("no space left on device")

    behind = WriteBehind(Full())
    assert calculate(template, toy, 2, "output", behind) == [60.0]
    behind.flush()  # a step that cannot be written is only computed again next time
    assert "could not be written to the cache" in caplog.text


def test_keys_depend_on_controls_inputs_version_and_code_only():
    first, second = plan(chain(), toy, 2), plan(chain(), toy, 2)
    assert first == second
    changed = plan(chain(values=(1.0, 2.0)), toy, 2)
    assert changed[0] != first[0] and changed[1] != first[1] and changed[2] != first[2]


STEP_FILE = '''
from helper import FACTOR


def triple(data, factor=2.0):
    """
    Multiply.

    **Inputs**

    data (number) : a number

    factor (float) : the factor [2.0]

    **Returns**

    output (number) : data times factor times FACTOR

    Author: test
    Version: 1
    """
    return data * factor * FACTOR
'''


def test_a_changed_helper_changes_the_key_though_the_version_stays(tmp_path, monkeypatch):
    """A step's key follows its code: a helper beside it changed, the version forgotten."""
    import importlib
    import sys

    from beamtime.reduction.dataflow import interface
    from beamtime.reduction.dataflow.calc import step_key

    (tmp_path / "step.py").write_text(STEP_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    keys = []
    for factor in (3, 4):
        (tmp_path / "helper.py").write_text(f"FACTOR = {factor}\n")
        interface._fingerprint.cache_clear()
        for name in ("step", "helper"):
            sys.modules.pop(name, None)
        module = define(importlib.import_module("step").triple, "toy.triple")
        assert module.version == "1"
        keys.append(step_key(module, {"factor": 2.0}, []))
    assert keys[0] != keys[1]


@pytest.mark.parametrize(
    ("nodes", "wires", "message"),
    [
        ([{"module": "toy.nope"}], [], "node 0: unknown module 'toy.nope'"),
        (
            [{"module": "toy.load"}, {"module": "toy.label"}, {"module": "toy.scale"}],
            [
                {"source": [0, "output"], "target": [1, "data"]},
                {"source": [1, "output"], "target": [2, "data"]},
            ],
            "node 2 (data): a text output cannot feed a number input",
        ),
        (
            [{"module": "toy.scale"}, {"module": "toy.scale"}],
            [
                {"source": [0, "output"], "target": [1, "data"]},
                {"source": [1, "output"], "target": [0, "data"]},
            ],
            "the wires form a cycle",
        ),
        ([{"module": "toy.scale"}], [], "node 0 (data): required input is not wired"),
        (
            [{"module": "toy.load"}, {"module": "toy.scale"}],
            [{"source": [0, "output"], "target": [1, "weight"]}],
            "node 1 (weight): toy.scale has no input 'weight'",
        ),
        (
            [{"module": "toy.load"}],
            [{"source": [0, "output"], "target": [5, "data"]}],
            "a wire must join existing",
        ),
        ([{"module": ["toy.load"]}], [], "node 0: unknown module ['toy.load']"),
        ([{"module": {"a": 1}}], [], "node 0: unknown module {'a': 1}"),
        ([{"module": "toy.load", "config": "abc"}], [], "node 0 (config): the config must be"),
        ([{"module": "toy.load", "config": None}], [], "node 0 (config): the config must be"),
        (
            [{"module": "toy.load", "config": [["values", [2.0]]]}],
            [],
            "node 0 (config): the config must be",
        ),
        *[  # a node counted from the end, or True for 1: a cycle 1 → 2 → 1 went unseen
            (
                [{"module": "toy.load"}, {"module": "toy.total"}, {"module": "toy.scale"}],
                [
                    {"source": [0, "output"], "target": [1, "data"]},
                    {"source": [1, "output"], "target": [2, "data"]},
                    wire,
                ],
                "a wire must join existing nodes",
            )
            for wire in (
                {"source": [-1, "output"], "target": [1, "data"]},
                {"source": [2, "output"], "target": [True, "data"]},
                {"source": [2, "output"], "target": [1]},
                {"source": [2, "output"], "target": [1, ["data"]]},
                {"source": [2, "output"]},
                [2, 1],
            )
        ],
        (
            [{"module": "toy.load"}, {"module": "toy.total"}, {"module": "toy.scale"}],
            [
                {"source": [0, "output"], "target": [1, "data"]},
                {"source": [1, "output"], "target": [2, "data"]},
                {"source": [2, "output"], "target": [1, "data"]},
            ],
            "node 1: the wires form a cycle: 1 → 2 → 1",
        ),
    ],
)
def test_bad_templates_name_the_node(nodes, wires, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        calculate(Template("bad", nodes, wires), toy, 0, "output", MemoryCache())


def offsets(count: int, cycle: bool = False) -> Template:
    """load → offset → offset → … (``count`` offsets), the last wired into the first if
    ``cycle``."""
    wires = [{"source": [i, "output"], "target": [i + 1, "data"]} for i in range(count)]
    if cycle:
        wires[0] = {"source": [count, "output"], "target": [1, "data"]}
    return Template("chain", [{"module": "toy.load"}] + [{"module": "toy.offset"}] * count, wires)


def test_a_chain_of_thousands_of_steps_is_computed_and_a_cycle_as_long_refused():
    """Walked without recursion: deeper than Python's recursion limit (1000) is no matter."""
    steps = []
    progress = lambda number, count, module: steps.append(number)  # noqa: E731
    found = calculate(offsets(1500), toy, 1500, "output", MemoryCache(), progress=progress)
    assert found == [1.0 + 1500 * 1.0] and calls["offset"] == 1500
    assert steps == list(range(1, 1502))  # the load, then each offset
    with pytest.raises(TemplateError) as refused:
        calculate(offsets(1500, cycle=True), toy, 1500, "output", MemoryCache())
    message = str(refused.value)
    assert message.startswith("node 1: the wires form a cycle: 1 → 1500 → 1499 → 1498 → ")
    assert message.endswith(" → 3 → 2 → 1") and message.count("→") == 1500


def test_an_unknown_parameter_and_a_failing_module_name_their_node(caplog):
    template = chain()
    with pytest.raises(TemplateError, match=r"node 1 \(gain\): toy.scale has no parameter 'gain'"):
        calculate(template, toy, 2, "output", MemoryCache(), config={"1": {"gain": 2}})
    with pytest.raises(TemplateError, match=r"node 1 \(factor\): 'x' is not a float"):
        calculate(template, toy, 2, "output", MemoryCache(), config={"1": {"factor": "x"}})
    with pytest.raises(TemplateError, match=r"node 1 \(factor\): must not be negative"):
        calculate(template, toy, 2, "output", MemoryCache(), config={"1": {"factor": -1.0}})
    with pytest.raises(TemplateError, match="node 1: toy.scale failed: .*overflow"):
        calculate(template, toy, 2, "output", MemoryCache(), config={"1": {"factor": 1e308}})
    # only the module's own failure is logged, with its traceback; a bad parameter is not
    (record,) = [r for r in caplog.records if r.name == "beamtime.reduction"]
    assert record.levelname == "ERROR" and "node 1 (toy.scale) failed" in record.getMessage()
    assert record.exc_info and "overflow" in str(record.exc_info[1])


@pytest.mark.parametrize(
    "kind, good, bad",
    [
        ("float", [1, 2.5], ["1", True, float("nan"), None]),
        ("int", [3, 4.0], [4.5, "4", False]),
        ("bool", [True], [1, "yes"]),
        ("opt:monitor|time", ["time"], ["none", 1]),
        ("index", [[3, 1, 1]], [[-1], [1.5], 3]),
        ("fileinfo", [{"source": "s", "path": "p"}], [{"path": "p"}, "p"]),
    ],
)
def test_control_values_are_held_to_their_type(kind, good, bad):
    datatype, _, units = kind.partition(":")
    terminal = Terminal("x", datatype, "", units, default=0)
    for value in good:
        check_control(terminal, value)
    for value in bad:
        with pytest.raises(ParameterError, match="^x: "):
            check_control(terminal, value)
    assert check_control(Terminal("i", "index", ""), [3, 1, 1]) == [1, 3]


def test_a_list_control_takes_one_value_as_a_list_of_one():
    """A template saved when the control held one number still runs."""
    scale = Terminal("scale", "float", "", multiple=True, default=(1.0,))
    assert check_control(scale, 2) == [2.0]
    assert check_control(scale, [0.5, 2]) == [0.5, 2.0]
    assert check_control(scale, []) == []
    for bad in ("2", [1.0, "x"], None, [float("inf")]):
        with pytest.raises(ParameterError, match="^scale: "):
            check_control(scale, bad)
    with pytest.raises(ParameterError, match="^i: 3 is not a list of point indices"):
        check_control(Terminal("i", "index", "", multiple=True, default=()), 3)


def test_templates_round_trip_through_json():
    template = chain()
    assert Template.from_dict(template.to_dict()).to_dict() == template.to_dict()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (None, "has no docstring"),
        (
            "Nothing.\n\n**Inputs**\n\ndata (number) : x\n\nAuthor: a\nVersion: 1",
            "no \\*\\*Returns\\*\\*",
        ),
        (
            "X.\n\n**Inputs**\n\ndata number\n\n**Returns**\n\noutput (number) : y\n\n"
            "Author: a\nVersion: 1",
            "line 5 is not",
        ),
        (
            "X.\n\n**Inputs**\n\ndata (number) : x\n\n**Returns**\n\noutput (number) : y",
            "must end with 'Author",
        ),
        (
            "X.\n\n**Returns**\n\noutput (number) : y\n\nAuthor: a\nVersion: 1",
            "parameter 'data' is not documented",
        ),
    ],
)
def test_bad_docstrings_fail_at_registration_naming_the_module(doc, message):
    def broken(data):
        return data

    broken.__doc__ = doc
    with pytest.raises(ModuleDefinitionError, match=f"module toy.broken: .*{message}"):
        define(broken, "toy.broken")


@given(st.text(max_size=300))
def test_any_docstring_defines_a_module_or_says_why(doc):
    def anything(data, factor=1.0):
        return data

    anything.__doc__ = doc
    try:
        definition = define(anything, "toy.anything")
    except ModuleDefinitionError:
        return
    assert [t.name for t in definition.inputs] == ["data"]


def test_the_redis_cache_is_shared_and_evicts_the_least_recently_used(redis_server):
    import redis

    from beamtime.reduction.dataflow.cache import RedisCache

    client = redis.Redis.from_url(redis_server)
    client.delete(*client.keys("bt-test:*") or ["none"])
    client.set("celery-broker-key", "must survive")
    cache = RedisCache(client, max_bytes=300, prefix="bt-test:")
    template = chain()
    assert calculate(template, toy, 2, "output", cache) == [60.0]
    calls.clear()
    assert calculate(template, toy, 2, "output", RedisCache(client, 300, "bt-test:")) == [60.0]
    assert calls == {}  # another process's cache object sees the same steps

    for n in range(20):  # fill beyond the cap, keeping one step in use
        cache.set_bundle(f"filler-{n}", {"output": ["x" * 40]})
        assert cache.get_bundle("filler-0") is not None
    assert int(client.get("bt-test:bytes")) <= 300
    assert "filler-0" in cache  # recently used: kept
    assert "filler-1" not in cache  # least recently used: gone
    assert client.get("celery-broker-key") == b"must survive"


def test_the_redis_byte_count_stays_right_when_two_processes_store_the_same_step(redis_server):
    import redis

    from beamtime.reduction.dataflow.cache import RedisCache

    client = redis.Redis.from_url(redis_server)
    client.delete(*client.keys("bt-same:*") or ["none"])
    one, other = (RedisCache(client, 10**6, "bt-same:") for _ in range(2))
    for cache in (one, other, one):  # the same step computed by two processes at once
        cache.set_bundle("step", {"output": ["é" * 10]})
    other.set_bundle("step", {"output": ["shorter"]})  # a new value replaces the old
    stored = sum(len(client.get(k)) for k in client.keys("bt-same:*") if k.endswith(b"step"))
    assert int(client.get("bt-same:bytes")) == stored == len(encode({"output": ["shorter"]}))


DOC = "X.\n\n**Inputs**\n\ndata (number{q}) : x{d}\n\nfactor (float) : f{f}\n\n"
DOC += "**Returns**\n\noutput (number) : y\n\nAuthor: a\nVersion: 1"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            DOC.format(q="", d="", f=" [3.0]"),
            "gives 'factor' the default \\[3.0\\], the signature 2.0",
        ),
        (DOC.format(q="?", d=" [1]", f=""), "input 'data' has a default \\[1\\] in the docstring"),
    ],
)
def test_a_default_the_signature_does_not_have_is_refused(written, message):
    def step(data=None, /, factor=2.0):
        return data

    step.__doc__ = written
    if "input" not in message:

        def step(data, factor=2.0):  # noqa: F811
            return data

        step.__doc__ = written
    with pytest.raises(ModuleDefinitionError, match=message):
        define(step, "toy.step")
    step.__doc__ = DOC.format(q="", d="", f=" [2.0]")
    if "input" not in message:
        assert define(step, "toy.step").controls[0].default == 2.0


def test_every_step_of_the_refl_instrument_says_its_defaults_right():
    from beamtime.reduction.instruments.refl import registry

    assert len(registry.modules) >= 20  # defined (and so checked) at import


def shifted(by: float = 1.0) -> Template:
    """load (3 numbers) → scale → offset (light)."""
    template = chain()
    template.nodes[2] = {"module": "toy.offset", "config": {"by": by}}
    return template


def test_light_steps_are_computed_without_compute_only_on_cached_small_inputs():
    cache = MemoryCache()
    calculate(shifted(), toy, 1, "output", cache)  # load and scale cached
    calls.clear()
    with pytest.raises(NotCached):  # no light allowance: nothing computed
        calculate(shifted(), toy, 2, "output", cache, compute=False)
    assert calculate(shifted(), toy, 2, "output", cache, compute=False, light=3) == [
        11.0,
        21.0,
        31.0,
    ]
    assert calls == {"offset": 3}
    calls.clear()
    with pytest.raises(NotCached):  # 3 numbers arrive: more than 2
        calculate(shifted(5.0), toy, 2, "output", cache, compute=False, light=2)
    with pytest.raises(NotCached):  # scale, not light, would have to be computed again
        calculate(shifted(), toy, 2, "output", cache, {"1": {"factor": 3.0}}, False, light=3)
    assert calls == {}


def test_recent_results_are_used_without_reading_the_cache_again():
    class Counting(MemoryCache):
        def get_bundle(self, key):
            reads.append(key)
            return super().get_bundle(key)

    reads, cache, recent = [], Counting(), Recent(points=100)
    calculate(shifted(), toy, 1, "output", cache)
    assert calculate(shifted(2.0), toy, 2, "output", cache, recent=recent) == [12.0, 22.0, 32.0]
    reads.clear()
    calls.clear()
    assert calculate(shifted(3.0), toy, 2, "output", cache, recent=recent) == [13.0, 23.0, 33.0]
    assert calls == {"offset": 3}
    assert reads == [plan(shifted(3.0), toy, 2)[2]]  # only the new step looked for; scale's
    # result was at hand


def test_recent_keeps_the_last_used_within_its_points():
    recent = Recent(points=10)
    recent.put("a", {"output": [1]}, 2)
    recent.put("b", {"output": [2]}, 2)
    recent.put("big", {"output": [3]}, 3)  # more than a quarter of the whole: not kept
    assert "big" not in recent
    assert recent.get("a") == {"output": [1]}  # a is now the last used
    recent.put("c", {"output": [4]}, 2)
    recent.put("d", {"output": [5]}, 2)
    recent.put("e", {"output": [6]}, 2)  # 10 points: all still kept
    assert [k in recent for k in "abcde"] == [True] * 5
    recent.put("f", {"output": [7]}, 2)  # b, the least recently used, goes
    assert "b" not in recent and recent.total == 10
    assert all(k in recent for k in "acdef")


def test_steps_never_change_the_results_they_are_given(pbr_source):
    """Results are shared by every request of a process (Recent): no refl step of the stock
    polarized template, run on real four-cross-section files, may change what it was given.
    Each kept result still encodes to what the cache holds for it."""
    from beamtime.reduction import sources
    from beamtime.reduction.instruments.refl import registry
    from beamtime.reduction.instruments.templates import predefined

    sources.configure([sources.LocalSource("local", pbr_source.root.parent)])
    files = {"specular": "reductus-pbr/mli0170.nxs.pbr", "direct beam": "ncnr-pbr/mli0159.nxs.pbr"}
    (stock,) = [t for t in predefined("refl") if t["name"] == "Polarized with footprint (reductus)"]
    nodes = [dict(n) for n in stock["nodes"]]
    for node in nodes:
        if node["module"] == "refl.load":
            named = [files[node["title"]]] if node["title"] in files else []
            node["config"] = {"filelist": [{"source": "local", "path": f} for f in named]}
    template = Template("polarized", nodes, stock["wires"], "refl")
    target = [n["title"] for n in nodes].index("correct footprint")
    cache, recent = MemoryCache(), Recent(points=10**6)
    first = calculate(template, registry, target, "output", cache, recent=recent)
    fresh = calculate(template, registry, target, "output", MemoryCache())
    assert len(first) == 4  # the four cross-sections
    stored = registry.datatypes["refldata"].to_stored
    assert encode([stored(v) for v in first]) == encode([stored(v) for v in fresh])
    keys = plan(template, registry, target)
    assert all(key in recent for key in keys.values())
    for index, key in keys.items():
        for terminal in registry.modules[nodes[index]["module"]].outputs:
            to_stored = registry.datatypes[terminal.datatype].to_stored
            kept = [to_stored(v) for v in recent.get(key)[terminal.name]]
            assert encode(kept) == encode(cache[key][terminal.name]), (index, terminal)
