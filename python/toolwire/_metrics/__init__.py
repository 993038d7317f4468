"""Statistics and telemetry behind ``toolwire.metrics`` and ``toolwire.telemetry``.

``histogram``  fixed-bucket histograms (the value type of every latency)
``stats``      ``Stats``: the thread-safe collector, one lock taken once per stream
``text``       the Prometheus text exposition format 0.0.4, written without prometheus_client
``prom``       a prometheus_client ``Collector`` over a ``Stats`` (optional extra)
``asgi``       the ``/metrics`` ASGI app
``peer``       api and base URL to provider name, server address and port
``outcomes``   how a stream ended, in one word, and ``error.type``
``otel``       OpenTelemetry GenAI spans and metrics (optional extra, imported only when on)
``probe``      the per-stream and per-run observers the client and agent call
"""
