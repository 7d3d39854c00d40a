"""Per-tenant content for the routers: each tenant's framework and catalog, resolved per request.

:class:`ContentService` answers "what does this tenant's request run on": the default content
(``PDREC_FRAMEWORK``, ``PDREC_CATALOG``) for a tenant without uploads, else its active versions
(:mod:`recommender.tenant_content`, :mod:`recommender.store.content`). Built contents are kept
per (tenant, versions), least recently used out; which versions are active is read from the store
(one indexed read, no documents) at most every :data:`CHECK_SECONDS` per tenant, and an upload
in this process forgets the tenant's entry at once. A request thus costs a dict lookup, and a
version change made by another process is seen within :data:`CHECK_SECONDS`; stored mastery and
cached answers never outlive it either way, since their keys carry the versions
(:attr:`api.services.ModelState.key`) and an upload bumps the educators' ``data_version``.

:meth:`ContentService.serve` adapts a served model state to a content: the default content keeps
the state's own ranking index and estimator; a tenant's own content gets an index and estimator
built on its graph and catalog, once per (content, state). A model is served on a tenant's own
framework only when its card records the same framework hash
(:func:`recommender.tenant_content.framework_hash`); otherwise the graph rule answers, with
``model.fallback: true`` and a ``note`` saying why.

:data:`api.deps.ContentDep` is the FastAPI dependency the routers declare.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from api.rereads import Rereads
from recommender.ranking import RankingIndex
from recommender.store import Store
from recommender.tenant_content import TenantContent, resolve_content

__all__ = ["CHECK_SECONDS", "ContentService"]

CHECK_SECONDS = 1.0
"""How long a tenant's active versions, once read from the store, are trusted in a process."""


def _model_hash(state: Any) -> str | None:
    card = getattr(state, "card", None) or {}
    return (card.get("framework") or {}).get("hash")


class ContentService:
    """The tenants' contents of this process (see the module docstring)."""

    def __init__(self, store: Store, default: TenantContent, *,
                 index_builder: Callable[[TenantContent, Any], RankingIndex],
                 estimator_builder: Callable[[TenantContent, Any], Any],
                 fallback: Callable[..., Any], max_contents: int = 32):
        self.store = store
        self.default = default
        self.index_builder = index_builder
        self.estimator_builder = estimator_builder
        self.fallback = fallback  # ModelState's constructor (no import cycle with services)
        self.max_contents = max_contents
        self._contents: OrderedDict[tuple, TenantContent] = OrderedDict()
        self._active: dict[str, tuple[float, tuple]] = {}
        self._rereads = Rereads(CHECK_SECONDS)  # one request re-reads a tenant's versions
        self._served: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._build = threading.Lock()

    def _versions(self, tenant_id: str) -> tuple:
        seen = self._active.get(tenant_id)
        now = time.monotonic()
        if seen is not None and now - seen[0] < CHECK_SECONDS:
            return seen[1]
        try:
            active = tuple(sorted(self.store.active_content(tenant_id).items()))
            self._active[tenant_id] = (now, active)
        finally:
            self._rereads.done(tenant_id)
        return active

    def known(self, tenant_id: str) -> TenantContent | None:
        """The tenant's content when neither a store read nor a build is due (None: call
        :meth:`for_tenant` from a worker thread); costs a few dictionary lookups.

        When the versions are due for their check, the first caller gets None (and reads them);
        callers meanwhile keep the content known so far until that read lands
        (:class:`api.rereads.Rereads`).
        """
        seen = self._active.get(tenant_id)
        if seen is None:
            return None
        if time.monotonic() - seen[0] >= CHECK_SECONDS and self._rereads.claim(tenant_id):
            return None
        if not seen[1]:
            return self.default
        with self._lock:
            return self._contents.get((tenant_id, seen[1]))

    def for_tenant(self, tenant_id: str) -> TenantContent:
        """The tenant's content at its active versions (the default when it uploaded none)."""
        active = self._versions(tenant_id)
        if not active:
            return self.default
        key = (tenant_id, active)
        with self._lock:
            found = self._contents.get(key)
            if found is not None:
                self._contents.move_to_end(key)
                return found
        with self._build:  # one build at a time; a concurrent request waits for it
            found = self._contents.get(key)
            if found is None:
                found = resolve_content(self.store, tenant_id, self.default, dict(active))
                with self._lock:
                    self._contents[key] = found
                    while len(self._contents) > self.max_contents:
                        self._contents.popitem(last=False)
        return found

    def forget(self, tenant_id: str) -> None:
        """The tenant uploaded or activated a version here: read its versions again now."""
        with self._lock:
            self._active.pop(tenant_id, None)
        self._rereads.done(tenant_id)

    @staticmethod
    def _key(content: TenantContent, state: Any) -> tuple:
        return (id(content), content.tag, content.framework_hash, state.key, state.loaded_at,
                state.scope)

    def served(self, content: TenantContent, state: Any) -> Any | None:
        """``state`` adapted to ``content`` when already built (None: call :meth:`serve`,
        which may build an index: from a worker thread)."""
        found = self._served.get(self._key(content, state))
        return found if found is not None and found.content is content else None

    def serve(self, content: TenantContent, state: Any) -> Any:
        """``state`` adapted to ``content`` (see the module docstring), built once and kept."""
        found = self.served(content, state)
        if found is not None:
            return found
        key = self._key(content, state)
        if content.default:
            served = replace(state, content=content)
        elif state.predictor is not None and (content.framework_version is None
                                              or _model_hash(state) == content.framework_hash):
            served = replace(state, content=content, index=None, estimator=None)
            served = replace(served, index=self.index_builder(content, served.gains),
                             estimator=self.estimator_builder(content, served))
        else:
            note = None
            if state.predictor is not None:
                note = (f"model {state.name}:{state.version} was trained on framework hash "
                        f"{_model_hash(state)}; this tenant's framework (version "
                        f"{content.framework_version}) has hash {content.framework_hash}: the "
                        "graph rule answers")
            served = self.fallback(reason=note or state.reason, note=note, scope="none",
                                   content=content, loaded_at=state.loaded_at)
            served = replace(served, index=self.index_builder(content, None),
                             estimator=self.estimator_builder(content, served))
        with self._lock:
            if len(self._served) >= 256:  # reloads and uploads leave old entries behind
                self._served.clear()
            self._served[key] = served
        return served
