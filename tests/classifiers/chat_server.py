"""A real HTTP server on 127.0.0.1 speaking the chat-completions protocol, scripted by markers in the prompt.

A document containing ``SCORE=<n>`` gets the reply ``…\\nEducational score: <n>`` (and ``Toxicity probability:
<n/10>`` for the toxicity rubric); ``GARBAGE`` gets a reply without a score; ``FAIL429`` / ``FAIL500`` fail the
first request for that prompt with that status (a Retry-After of 0 on the 429). ``down_after`` makes every
request after the first N answer 503; ``sleep_s`` delays every answer (timeouts); ``status`` answers every request
with that HTTP status; ``html_body`` answers 200 with an HTML page instead of JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, down_after: int | None = None, sleep_s: float = 0.0, status: int | None = None,
                 html_body: bool = False) -> None:
        self.down_after, self.sleep_s, self.status, self.html_body = down_after, sleep_s, status, html_body
        self.requests = 0  # answered with a completion
        self.calls = Counter()  # every HTTP call per prompt hash
        self.statuses = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload, headers = server.answer(self.path, body)
                if server.sleep_s:
                    time.sleep(server.sleep_s)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, path: str, body: dict) -> tuple[int, object, dict]:
        prompt = body["messages"][-1]["content"]
        key = hashlib.sha256(prompt.encode()).hexdigest()
        with self.lock:
            self.calls[key] += 1
            first = self.calls[key] == 1
            if path != "/v1/chat/completions":
                status = 404
            elif self.status:
                status = self.status
            elif self.down_after is not None and self.requests >= self.down_after:
                status = 503
            elif first and "FAIL429" in prompt:
                status = 429
            elif first and "FAIL500" in prompt:
                status = 500
            else:
                status = 200
                self.requests += 1
            self.statuses[status] += 1
        if status != 200:
            return status, {"error": {"message": f"status {status}"}}, {"Retry-After": "0"} if status == 429 else {}
        if self.html_body:
            return 200, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"}
        return 200, completion(reply_for(prompt), body.get("model", "")), {"Content-Type": "application/json"}


def reply_for(prompt: str) -> str:
    if "GARBAGE" in prompt:
        return "I am not able to evaluate this extract."
    m = re.search(r"SCORE=(\d+)", prompt)
    n = int(m.group(1)) if m else 2
    if "Toxicity probability" in prompt:
        return f"Some reasoning about toxicity.\n\nToxicity probability: {n / 10:g}"
    return f"The extract is coherent.\n\n**Educational score: {n}**"


def completion(text: str, model: str) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
