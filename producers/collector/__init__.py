"""The collector: HTTP ingest for players with no AWS credentials, and CMCD v2 event mode.

Layout: `sfv` (CMCD's wire syntax, RFC 8941 dictionaries), `cmcd` (a CMCD report
mapped onto the contract), `ingest` (bodies to events and rejections, through the
contract's one validator), `writer` (the SDK's batching writer to the stream and
the dead-letter stream), `metrics` (Prometheus), `app` (the ASGI app), `server`
(uvicorn, from the settings). Served by `ottlake collector`; docs/collector.md.
"""
