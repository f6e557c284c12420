"""A small OpenAI-compatible chat-completions server for tests (stdlib only, loopback only).

Tests script its replies; it records every request body and header so a test can check what
reached the wire. The real openai client talks to it over real HTTP; a request with
``"stream": true`` is answered as server-sent events, piece by piece, as real servers do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    content: str | None = None          # the assistant message's content (for status 200)
    delay: float = 0.0                  # seconds to wait before answering
    error: str = "error"                # the error message (for other statuses)
    reject_json_schema: bool = False    # answer 400 when the request asks for json_schema
    trickle: float = 0.0                # seconds between the body's bytes (a slow server)
    finish_reason: str = "stop"
    refusal: str | None = None
    no_choices: bool = False
    piece: int = 12                     # characters per streamed chunk
    chunk_delay: float = 0.0            # seconds between streamed chunks (a slow model)


@dataclass
class FakeLLM:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    default: Callable[[dict[str, Any]], Reply] | None = None
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def settings(self, **overrides: Any) -> Any:
        """Settings that send the real openai client to this server (model "fake", 10 s)."""
        import dataclasses

        from demetra.config import Settings

        return dataclasses.replace(Settings(), openai_base_url=self.base_url,
                                   openai_api_key="sk-test", llm_model="fake",
                                   llm_timeout=10.0, **overrides)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        if self.replies:
            return self.replies.pop(0)
        if self.default is not None:
            return self.default(body)
        return Reply(500, error="no scripted reply left")

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                reply = fake.next_reply(body)
                if reply.delay:
                    time.sleep(reply.delay)
                wants_schema = (body.get("response_format") or {}).get("type") == "json_schema"
                if reply.reject_json_schema and wants_schema:
                    fake.replies.insert(0, Reply(reply.status, reply.content, 0.0, reply.error))
                    return self._send(400, {"error": {
                        "message": "response_format json_schema is not supported",
                        "type": "invalid_request_error"}})
                if reply.status != 200:
                    return self._send(reply.status, {"error": {"message": reply.error,
                                                               "type": "api_error"}})
                message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                if reply.refusal:
                    message["refusal"] = reply.refusal
                if body.get("stream"):
                    return self._stream(body, reply)
                choices = [] if reply.no_choices else [
                    {"index": 0, "finish_reason": reply.finish_reason, "message": message}]
                self._send(200, {
                    "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "fake"),
                    "choices": choices,
                    "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200},
                }, trickle=reply.trickle)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
                    return ("data: " + json.dumps({
                        "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": body.get("model", "fake"),
                        "choices": choices, **extra}) + "\n\n").encode()

                events = []
                if not reply.no_choices:
                    text = reply.content or ""
                    first = {"role": "assistant", "content": ""}
                    if reply.refusal:
                        first["refusal"] = reply.refusal
                    events.append(chunk([{"index": 0, "delta": first, "finish_reason": None}]))
                    for i in range(0, len(text), reply.piece):
                        events.append(chunk([{"index": 0, "finish_reason": None,
                                              "delta": {"content": text[i:i + reply.piece]}}]))
                    events.append(chunk([{"index": 0, "delta": {},
                                          "finish_reason": reply.finish_reason}]))
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append(chunk([], usage={"prompt_tokens": 120, "completion_tokens": 80,
                                                   "total_tokens": 200}))
                events.append(b"data: [DONE]\n\n")
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.end_headers()
                    for event in events:
                        for i in range(len(event) if reply.trickle else 1):
                            self.wfile.write(event[i:i + 1] if reply.trickle else event)
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                        time.sleep(reply.chunk_delay)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            def _send(self, status: int, payload: dict[str, Any], trickle: float = 0.0) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    if not trickle:
                        self.wfile.write(data)
                    for i in range(len(data) if trickle else 0):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(trickle)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
