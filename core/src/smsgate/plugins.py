"""Plugin discovery: the entry-point group `smsgate`, loaded one by one so a broken plugin harms nobody."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from ._adapter import Adapter
from .errors import PluginError

__all__ = ["AdapterInfo", "PluginFailure", "call_each", "get_adapters", "installed_adapters", "load_plugins",
           "loading_note", "pm"]

log = logging.getLogger("smsgate.plugins")
pm = pluggy.PluginManager("smsgate")
pm.add_hookspecs(hookspecs)


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be loaded: its entry point, its distribution and why."""

    name: str
    distribution: str
    error: str


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """An adapter class with the distribution (name, version) that registered it."""

    name: str
    adapter: type[Adapter[Any]]
    plugin: str
    distribution: str
    version: str


_state: dict[str, Any] = {"loaded": False, "failures": [], "dists": {}}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_plugins(*, strict: bool | None = None) -> list[PluginFailure]:
    """Load every `smsgate` entry point once; return the failures (raise on the first if strict).

    `SMSGATE_LOAD_PLUGINS=a,b` loads only those distributions or entry-point names (empty: none),
    `SMSGATE_BLOCK_PLUGINS=a,b` skips them, `SMSGATE_STRICT_PLUGINS=1` makes any failure fatal.
    """
    if strict is None:
        strict = _truthy(os.environ.get("SMSGATE_STRICT_PLUGINS"))
    if _state["loaded"]:
        failures: list[PluginFailure] = _state["failures"]
        if strict and failures:
            raise PluginError(_describe(failures[0]))
        return failures
    only = os.environ.get("SMSGATE_LOAD_PLUGINS")
    allowed = None if only is None else {p.strip() for p in only.split(",") if p.strip()}
    blocked = {p.strip() for p in os.environ.get("SMSGATE_BLOCK_PLUGINS", "").split(",") if p.strip()}
    failures = []
    for ep in metadata.entry_points(group="smsgate"):
        dist = ep.dist.name if ep.dist else "?"
        if allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        if ep.name in blocked or dist in blocked:
            pm.set_blocked(ep.name)
            continue
        if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # any import-time error must not take the other plugins down
            failure = PluginFailure(ep.name, dist, f"{type(exc).__name__}: {exc}")
            if strict:
                raise PluginError(_describe(failure)) from exc
            log.warning("%s", _describe(failure))
            failures.append(failure)
            continue
        _state["dists"][ep.name] = (dist, ep.dist.version if ep.dist else "")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements a hook that does not exist: {exc}") from None
    _state["loaded"] = True
    _state["failures"] = failures
    if _truthy(os.environ.get("SMSGATE_TRACE_PLUGINS")):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return failures


def loading_note() -> str:
    """Why installed plugins may be missing (`SMSGATE_LOAD_PLUGINS`, `SMSGATE_BLOCK_PLUGINS`), or ``""``."""
    notes = []
    only = os.environ.get("SMSGATE_LOAD_PLUGINS")
    if only is not None and not [p for p in only.split(",") if p.strip()]:
        notes.append("plugins are disabled: SMSGATE_LOAD_PLUGINS is set and empty")
    elif only is not None:
        notes.append(f"only the plugins in SMSGATE_LOAD_PLUGINS={only.strip()} are loaded")
    blocked = os.environ.get("SMSGATE_BLOCK_PLUGINS", "").strip()
    if blocked:
        notes.append(f"SMSGATE_BLOCK_PLUGINS={blocked} skips those")
    return "; ".join(notes)


def _describe(failure: PluginFailure) -> str:
    return (f"plugin {failure.name!r} from distribution {failure.distribution!r} failed to load: {failure.error} "
            f"(skip it with SMSGATE_BLOCK_PLUGINS={failure.name})")


def call_each(hook_name: str, **kwargs: Any) -> dict[str, Exception]:
    """Call hook `hook_name` through pluggy once per implementing plugin, so one plugin's exception cannot stop
    the others (hook wrappers and SMSGATE_TRACE_PLUGINS see every call); the failures by plugin name."""
    load_plugins()
    failures: dict[str, Exception] = {}
    implementers = [impl.plugin for impl in getattr(pm.hook, hook_name).get_hookimpls()]
    for plugin in implementers:
        others = [p for p in pm.get_plugins() if p is not plugin]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
        except Exception as exc:  # reported with the plugin's name by the caller
            failures[pm.get_name(plugin) or repr(plugin)] = exc
    return failures


def get_adapters() -> dict[str, AdapterInfo]:
    """Every registered adapter by name, from the same loader the runtime uses."""
    load_plugins()
    found: dict[str, AdapterInfo] = {}
    registering: list[str] = [""]  # the plugin whose hook implementation is running

    def register(cls: type[Adapter[Any]]) -> None:
        plugin_name = registering[0]
        dist, version = _state["dists"].get(plugin_name, (plugin_name, ""))
        name = getattr(cls, "name", "")
        if not name:
            raise PluginError(f"plugin {plugin_name!r} registered adapter {cls!r} without a name")
        if name in found and found[name].adapter is not cls:
            raise PluginError(f"adapter {name!r} registered twice: by {found[name].plugin!r} and {plugin_name!r}")
        found[name] = AdapterInfo(name, cls, plugin_name, dist, version)

    for impl in pm.hook.smsgate_register_adapters.get_hookimpls():
        registering[0] = impl.plugin_name
        others = [p for p in pm.get_plugins() if p is not impl.plugin]
        pm.subset_hook_caller("smsgate_register_adapters", remove_plugins=others)(register=register)
    return dict(sorted(found.items()))


def installed_adapters() -> dict[str, type[Adapter[Any]]]:
    """Adapter classes by name, as a config needs them (`smsgate.host.load_config(path, installed_adapters())`)."""
    return {name: info.adapter for name, info in get_adapters().items()}
