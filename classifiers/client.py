"""A minimal client of the OpenAI-compatible chat-completions protocol (vLLM, SGLang, llama.cpp server, hosted
APIs), with the failure handling a long annotation run needs.

* Transient failures are retried with exponential backoff (``backoff_s * 2**attempt``, capped at 60 s, or the
  server's ``Retry-After``): HTTP 408 / 429 / 5xx, connection refused or reset, timeouts, and a 200 whose
  body is not a chat completion (a proxy's error page). After ``max_retries`` the endpoint is declared down
  (:class:`EndpointDown`).
* Other HTTP errors (400, 401, 404: a wrong URL, model name or key) fail at once (:class:`EndpointError`):
  retrying cannot fix them.
* A :class:`RateLimiter` spaces requests across all threads (``rate`` per second).

Only the standard library is used: ``urllib`` with a per-request timeout.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from codeflow.errors import CodeflowError

TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 60.0


class EndpointError(CodeflowError):
    """The endpoint refuses the request in a way retrying cannot fix (bad URL, model, key)."""


class EndpointDown(CodeflowError):
    """The endpoint kept failing with transient errors after every retry. Like units that failed on I/O, not a
    usage error: exit 1, and a re-run resumes from the cache."""

    exit_code = 1


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (evenly spaced); ``rate <= 0``: no limit."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


def chat_url(endpoint: str) -> str:
    """``http://host:8000/v1`` or a full ``…/chat/completions`` URL -> the chat-completions URL."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/chat/completions") else endpoint + "/chat/completions"


@dataclass(frozen=True)
class ChatClient:
    endpoint: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_tokens: int = 512
    temperature: float = 0.0

    def complete(self, prompt: str, limiter: RateLimiter | None = None, stop: threading.Event | None = None
                 ) -> tuple[str, int]:
        """(reply text, retries used). Raises EndpointDown / EndpointError."""
        body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                           "temperature": self.temperature, "max_tokens": self.max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.max_retries + 1):
            if stop is not None and stop.is_set():
                raise EndpointDown(f"gave up: another request found the endpoint down ({last or 'no reply'})")
            if limiter:
                limiter.acquire()
            wait = None
            try:
                req = urllib.request.Request(chat_url(self.endpoint), data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    raw = resp.read()
                reply = _content(raw)
                if reply is not None:
                    return reply, attempt
                last = f"not a chat completion: {raw[:120]!r}"
            except urllib.error.HTTPError as e:
                if e.code not in TRANSIENT_STATUS:
                    detail = e.read()[:200].decode("utf-8", "replace")
                    raise EndpointError(f"{chat_url(self.endpoint)} answered HTTP {e.code}: {detail}") from e
                last = f"HTTP {e.code}"
                wait = _retry_after(e.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.max_retries:
                time.sleep(min(MAX_BACKOFF_S, wait if wait is not None else self.backoff_s * 2 ** attempt))
        raise EndpointDown(f"{chat_url(self.endpoint)} failed {self.max_retries + 1} times; last: {last}")


def _content(raw: bytes) -> str | None:
    try:
        msg = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return msg if isinstance(msg, str) else None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
