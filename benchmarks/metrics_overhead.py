"""What counting and timing a request costs (chatsite.metrics.RequestMetricsMiddleware): microseconds
per request over a view that does nothing, in one process and in multiprocess mode (the counters in
memory-mapped files under PROMETHEUS_MULTIPROC_DIR, as `serve` runs the web processes).

    .venv/bin/python benchmarks/metrics_overhead.py [--requests 200000]

Each mode runs in a process of its own: prometheus_client picks its mode when first imported.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(requests: int) -> dict[str, float]:
    """Best of five rounds, microseconds per request, without and with the middleware."""
    import django

    django.setup()
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from chatsite import metrics

    response = HttpResponse(b"ok")

    def view(_request):
        return response

    request = RequestFactory().get("/accounts/login/")
    request.resolver_match = resolve("/accounts/login/")
    results = {}
    for name, handler in (("bare", view), ("metrics", metrics.RequestMetricsMiddleware(view))):
        best = float("inf")
        for _round in range(5):
            started = time.perf_counter()
            for _ in range(requests):
                handler(request)
            best = min(best, (time.perf_counter() - started) / requests)
        results[name] = best * 1e6
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--child", choices=["single", "multiprocess"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.requests)
        overhead = result["metrics"] - result["bare"]
        print(f"{args.child:>12}: {overhead:.2f} µs per request (bare {result['bare']:.2f} µs)")
        return
    with tempfile.TemporaryDirectory() as data_dir:
        base = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", "DATA_DIR": data_dir}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)
        folder = Path(data_dir) / "metrics"
        folder.mkdir()
        for mode, env in (
            ("single", base),
            ("multiprocess", {**base, "PROMETHEUS_MULTIPROC_DIR": str(folder)}),
        ):
            command = [sys.executable, __file__, "--child", mode, "--requests", str(args.requests)]
            subprocess.run(command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, check=True)


if __name__ == "__main__":
    main()
