"""Write the configuration of the offline book: _config.yml with _config_offline.yml merged over it.

    python browser/offline_config.py [--default] OUT.yml [CACHE_DIR]

Mappings are merged key by key (except the sphinx.config keys in REPLACED), anything else in _config_offline.yml replaces the value of
_config.yml. The execution cache is set to CACHE_DIR (default: _build/.jupyter_cache, the cache of
`make book`), so that building the offline variant re-executes only chapters that changed.
With --default: the default build's configuration (_config.yml alone, MathJax from its CDN) with
only the execution cache set, for the browser tests' Slow 4G measurement of the default build.
"""

from __future__ import annotations

import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# keys of sphinx.config that _config_offline.yml replaces as a whole (mappings are merged otherwise)
REPLACED = ("nb_ipywidgets_js",)


def merge(base: dict, overlay: dict) -> dict:
    """A new mapping: `base` with `overlay` merged over it recursively (mappings merged, other values replaced)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def default_config(cache: pathlib.Path) -> dict:
    """_config.yml with the execution cache set to `cache` (absolute), nothing else changed."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["cache"] = str(cache.resolve())
    return config


def offline_config(cache: pathlib.Path) -> dict:
    """The offline configuration; html_extra_path and the cache as absolute paths, so that it also serves books elsewhere (tests)."""
    overlay = yaml.safe_load((ROOT / "_config_offline.yml").read_text())
    config = merge(default_config(cache), overlay)
    sphinx = config["sphinx"]["config"]
    # the script list replaces the default build's (CDN) list instead of joining it
    for key in REPLACED:
        if key in overlay["sphinx"]["config"]:
            sphinx[key] = overlay["sphinx"]["config"][key]
    sphinx["html_extra_path"] = [str(ROOT / p) for p in sphinx.get("html_extra_path", [])]
    return config


if __name__ == "__main__":
    args = sys.argv[1:]
    variant = offline_config
    if args[:1] == ["--default"]:
        variant, args = default_config, args[1:]
    if len(args) not in (1, 2):
        sys.exit(__doc__)
    cache = pathlib.Path(args[1]) if len(args) == 2 else ROOT / "_build" / ".jupyter_cache"
    out = pathlib.Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(variant(cache), sort_keys=False))
