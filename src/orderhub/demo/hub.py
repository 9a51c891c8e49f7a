"""The simulator's view of an OrderHub: its HTTP API, with the few rules a well-behaved client
follows. Every call has a timeout; transport errors, 429 and 5xx are retried twice; a route
the hub does not have (404 without a problem ``code``, e.g. a tracking feed not deployed yet)
is reported once and then skipped quietly."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

log = logging.getLogger("orderhub.simulator")
RETRYABLE = {429, 500, 502, 503, 504}


class HubError(Exception):
    """The hub refused a step (a 4xx with a problem document, or 5xx after retries)."""

    def __init__(self, method: str, path: str, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        self.code = str(problem.get("code") or problem.get("title") or status)
        super().__init__(f"{method} {path}: {status} {self.code}: {problem.get('detail', '')}")


class Hub:
    """Two clients on one hub: the API (bearer key) and the carriers' webhooks (signed, no key)."""

    def __init__(self, url: str, api_key: str, *, timeout_s: float = 10.0, connections: int = 8) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.api = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s, limits=limits
        )
        self.webhooks = httpx.Client(base_url=url, timeout=timeout_s, limits=limits)
        self.missing: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.api.close()
        self.webhooks.close()

    def get(self, path: str) -> Any:
        return self._call(self.api, "GET", path, route=path)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        route: str = "",
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = False,
    ) -> Any | None:
        """POST and return the JSON answer; ``None`` when the hub has no such route (``route``
        names it in the one log line)."""
        client = self.webhooks if signed else self.api
        return self._call(client, "POST", path, route=route or path, body=body, content=content, headers=headers)

    def is_missing(self, route: str) -> bool:
        return route in self.missing

    def _call(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        route: str,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any | None:
        if route in self.missing:
            return None
        if content is not None:
            headers = {"Content-Type": "application/json", **(headers or {})}
        for attempt in range(3):
            try:
                response = client.request(method, path, json=body, content=content, headers=headers)
            except httpx.TransportError as exc:
                if attempt == 2:
                    raise HubError(method, path, 0, {"title": type(exc).__name__, "detail": str(exc)}) from None
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code in RETRYABLE and attempt < 2:
                time.sleep(0.2 * (attempt + 1))
                continue
            break
        if response.is_success:
            return response.json() if response.content else {}
        problem = _problem(response)
        if response.status_code in (404, 405) and "code" not in problem:
            with self._lock:
                first = route not in self.missing
                self.missing.add(route)
            if first:
                log.warning("the hub has no %s %s yet: skipping that step", method, route)
            return None
        raise HubError(method, path, response.status_code, problem)


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"title": response.reason_phrase, "detail": response.text[:200]}
    return body if isinstance(body, dict) else {"detail": str(body)[:200]}
