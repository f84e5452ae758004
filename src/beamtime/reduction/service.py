"""The reduction engine as the web sees it: instruments, the step cache chosen in settings, and
the stateless requests — every request carries its whole template; nothing about it is kept
but the computed steps in the cache."""

import functools
import hashlib
import json
import logging
import threading

from django.conf import settings

from beamtime.core.after_response import after_response
from beamtime.reduction import sources
from beamtime.reduction.dataflow.cache import DiskCache, Recent, RedisCache, WriteBehind
from beamtime.reduction.dataflow.calc import DataType, NotCached, Registry, calculate, plan
from beamtime.reduction.dataflow.template import Template, TemplateError
from beamtime.reduction.docs import module_html

log = logging.getLogger("beamtime.reduction")

# The raw files one template may name in all its loaders (each is looked up in the request).
MAX_TEMPLATE_FILES = 2000


@functools.cache
def instruments() -> dict[str, Registry]:
    from beamtime.reduction.instruments import refl

    return {"refl": refl.registry}


def loaded() -> bool:
    """Whether this process has imported the instruments' steps (a web worker does after its
    first reduction request, in the background: see load_after_response)."""
    return instruments.cache_info().currsize > 0


_loading = threading.Lock()


def load_soon() -> None:
    """Import the instruments' steps in a background thread (one at a time)."""
    if not loaded() and _loading.acquire(blocking=False):

        def load():
            try:
                instruments()
            finally:
                _loading.release()

        threading.Thread(target=load, name="import reduction steps", daemon=True).start()


def load_after_response() -> None:
    """load_soon once the request under way has been answered (its answer is not delayed by
    the imports, nor the calculation on the pool slowed by them on a machine of few cores)."""
    after_response(load_soon)


@functools.cache
def instrument_definitions() -> list[dict]:
    from beamtime.reduction.instruments.templates import predefined

    return [
        {
            "id": name,
            "datatypes": sorted(registry.datatypes),
            "modules": [{**m.to_dict(), "html": module_html(m)} for m in registry.modules.values()],
            "templates": predefined(name),
        }
        for name, registry in instruments().items()
    ]


@functools.cache
def recent() -> Recent:
    """This process' decoded results used last (dataflow.cache.Recent)."""
    return Recent(10 * settings.REDUCTION_LIGHT_POINTS)


@functools.cache
def step_cache():
    recent.cache_clear()  # what a former cache held is no longer known to be in this one
    if settings.REDUCTION_CACHE == "redis":
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        return RedisCache(client, max_bytes=settings.REDUCTION_CACHE_MB * 2**20)
    return DiskCache(settings.REDUCTION_CACHE_DIR, max_bytes=settings.REDUCTION_CACHE_MB * 2**20)


def registry_for(template: Template) -> Registry:
    if template.instrument not in instruments():
        raise TemplateError(f"unknown instrument {template.instrument!r}")
    return instruments()[template.instrument]


def current_once(user):
    """sources.current for ``user``, each distinct file looked up once (a request may name
    one file many times, at any mtime: its current one is looked up)."""
    found = {}

    def current(info):
        if isinstance(info, dict):  # its version is looked up, whatever the request says
            info = {k: v for k, v in info.items() if k not in ("mtime", "size")}
        key = digest(info)
        if key not in found:
            try:
                found[key] = sources.current(info, user)
            except Exception as exc:
                found[key] = exc
        if isinstance(found[key], Exception):
            raise found[key]
        return found[key]

    return current


def with_current_files(template: Template, config: dict, registry: Registry, user) -> dict:
    """The config with every file a node names at its current mtime (so that a file written
    again is read again), after checking that ``user`` may read it; at most
    MAX_TEMPLATE_FILES files in all."""
    config = {str(k): dict(v) for k, v in (config or {}).items() if isinstance(v, dict)}
    named = []  # (node, control, files)
    for index, node in enumerate(template.nodes):
        module = registry.modules.get(node.get("module")) if isinstance(node, dict) else None
        if module is None:
            continue
        for control in module.controls:
            if control.datatype != "fileinfo":
                continue
            value = config.get(str(index), {}).get(
                control.name, node.get("config", {}).get(control.name)
            )
            if value is None:
                continue
            files = value if control.multiple else [value]
            if not isinstance(files, list):
                raise TemplateError("a list of files is expected", index, control.name)
            named.append((index, control, files))
    total = sum(len(files) for _, _, files in named)
    count = 0
    for index, control, files in named:
        count += len(files)
        if count > MAX_TEMPLATE_FILES:
            message = f"{total} files named: a template may name at most {MAX_TEMPLATE_FILES}"
            raise TemplateError(message, index, control.name)
    current = current_once(user)
    for index, control, files in named:
        try:
            files = [current(info) for info in files]
        except sources.SourceError as exc:
            raise TemplateError(str(exc), index, control.name) from None
        config.setdefault(str(index), {})[control.name] = files if control.multiple else files[0]
    return config


@sources.one_connection_per_host()
def run(
    user,
    template: Template,
    config: dict,
    node: int,
    terminal: str,
    compute: bool = True,
    progress=None,
    cache=None,
) -> tuple[list, DataType, dict]:
    """The values at ``node``'s output ``terminal``, their data type, and the config they were
    computed with: every file at the version (mtime) read, for the export's provenance. With
    ``compute`` False (a web request), calc.NotCached unless they are in the cache or only
    light steps of small inputs are missing (``calc.calculate``), which are computed here
    and written to the cache once the request is answered; in ``cache`` (default: the step
    cache)."""
    registry = registry_for(template)
    template.check(registry.modules)
    if not (isinstance(node, int) and 0 <= node < len(template.nodes)):
        raise TemplateError(f"there is no node {node!r}")
    module = registry.modules[template.nodes[node]["module"]]
    output = next((t for t in module.outputs if t.name == terminal), None)
    if output is None:
        raise TemplateError(f"{module.id} has no output {terminal!r}", node, terminal)
    config = with_current_files(template, config, registry, user)
    cache = step_cache() if cache is None else cache
    light = 0 if compute else settings.REDUCTION_LIGHT_POINTS
    if light:
        cache = WriteBehind(cache)
    values = calculate(
        template, registry, node, terminal, cache, config, compute, progress, light, recent()
    )
    if light and cache.held:
        after_response(cache.flush)  # the light steps computed here
    return values, registry.datatypes[output.datatype], config


def plottable(values: list, datatype: DataType) -> dict:
    """What the page plots of ``values``: each as one curve or several."""
    shown = [datatype.display(v) for v in values]
    flat = [curve for item in shown for curve in (item if isinstance(item, list) else [item])]
    return {"datatype": datatype.name, "values": flat}


@sources.one_connection_per_host()
def cached_nodes(user, template: Template, config: dict) -> list[int]:
    """The nodes whose results are in the cache now."""
    registry = registry_for(template)
    template.check(registry.modules)
    config = with_current_files(template, config, registry, user)
    cache = step_cache()
    return sorted(
        index for index, key in plan(template, registry, None, config).items() if key in cache
    )


@sources.one_connection_per_host()
def file_summaries(user, instrument: str, files: list, compute: bool = True, progress=None):
    """What each raw file holds, as the instrument reads it ({"error"} for one it cannot),
    cached like a step: by source, path and mtime. With ``compute`` False, NotCached (keyed
    by the whole request) unless every named file's summary is cached; ``progress(number,
    count, what)`` hears of each file read."""
    registry = instruments().get(instrument)
    if registry is None or registry.describe_file is None:
        raise TemplateError(f"instrument {instrument!r} describes no files")
    cache, found, infos, current = step_cache(), [], [], current_once(user)
    for info in files:
        try:
            infos.append(current(info))
        except Exception as exc:  # a file that cannot be named: said beside its name
            if not isinstance(exc, sources.SourceError):  # a refused path needs no traceback
                log.exception("naming %r failed", info)
            infos.append({"error": str(exc)})
    # "describe 2": the summaries with Q ranges
    keys = [None if "error" in info else digest(["describe 2", instrument, info]) for info in infos]
    if not compute and any(key is not None and key not in cache for key in keys):
        raise NotCached(digest(["describe request", instrument, infos]))
    for number, (info, key) in enumerate(zip(infos, keys, strict=True), 1):
        if key is None:
            found.append(info)
            continue
        summary = cache.get_bundle(key)
        if summary is None:
            if progress:
                progress(number, len(infos), "reading files")
            summary, lasting = _summary(registry, info)
            if lasting:
                cache.set_bundle(key, summary)
        found.append(summary)
    return found


def _summary(registry: Registry, info: dict) -> tuple[dict, bool]:
    """What the file at ``info`` holds, or {"error"}; and whether that lasts as long as the
    file is unchanged, to be cached: a summary does, and so does the instrument's refusal of
    a file it cannot read (e.g. a README beside the runs: a web process then finds it in the
    cache too), not a file that could not be fetched nor an unexpected failure."""
    try:
        return registry.describe_file(sources.fetch(info), info["path"].split("/")[-1]), True
    except sources.SourceError as exc:  # a refused path needs no traceback
        return {"error": str(exc)}, False
    except ValueError as exc:  # the reader's refusal (e.g. not a NeXus file)
        return {"error": str(exc)}, True
    except Exception as exc:
        log.exception("summary of %s failed", info.get("path"))
        return {"error": str(exc)}, False


def digest(value) -> str:
    """A key for a JSON-like value: the same for equal values, whatever their keys' order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
