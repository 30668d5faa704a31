"""Finding a requested variant among the loaded ones: the one unknown-variant 404, the one
"no such version" sentence and the one note that an older version serves for a failed newest."""

from __future__ import annotations

from typing import Any

from regserve_contracts.variants import unknown_variant_message
from server.errors import ApiError
from server.runtime.registry import LoadedVariant, Snapshot
from server.runtime.selection import split_key

#: ``?variant=all`` asks /predict for every loaded variant; a keyword, never a variant's name.
ALL = "all"
#: Where an answer says that a variant's newest version fails and an older one serves.
VERSION_FAILED = "newest_version_failed"


def missing_version(snapshot: Snapshot, key: str) -> str | None:
    """``no version 7 of none; versions: 1`` when ``key`` names a loaded variant at a version
    that is not loaded (and whether it is on disk); None for any other key."""
    try:
        name, version = split_key(key)
    except ValueError:
        return None
    if version is None or name not in snapshot.variants:
        return None
    loaded = ", ".join(str(variant.version) for variant in snapshot.versions_of(name))
    on_disk = version in snapshot.on_disk.get(name, ())
    return (f"no version {version} of {name}; versions: {loaded}"
            + (" (it is on disk, but the version policy does not load it)" if on_disk else ""))


def unknown_variants(snapshot: Snapshot, keys: list[str]) -> ApiError:
    """The 404 for ``keys`` that are not loaded: each one and why (unknown, failed to load, no
    such version), then the names that are; ``valid_variants`` lists exactly those."""
    valid = [*snapshot.variants, *snapshot.older]
    failed = {key: failure.error for key, failure in snapshot.failed.items()}
    reasons = {key: why for key in keys if (why := missing_version(snapshot, key))}
    return ApiError(404, unknown_variant_message(keys, valid, failed, reasons), "unknown_variant",
                    valid_variants=valid)


def loaded(snapshot: Snapshot, key: str) -> tuple[str, LoadedVariant]:
    """The engine's key and the loaded variant for ``name`` or ``name@version``; else 404."""
    resolved = snapshot.resolve(key)
    if resolved is None:
        raise unknown_variants(snapshot, [key])
    return resolved


def version_failed(snapshot: Snapshot, name: str, serving: LoadedVariant) -> dict[str, Any]:
    """``{VERSION_FAILED: failure}`` while ``name``'s newest version fails and ``serving``
    answers in its place; ``{}`` otherwise."""
    if name not in snapshot.failed:
        return {}
    return {VERSION_FAILED: {**snapshot.failed[name].to_dict(),
                             "serving_version": serving.version}}
