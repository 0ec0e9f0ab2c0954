"""Data Docs: the latest runs' suites and results as static HTML under
`<lake>/_quality/docs/`.

The gates run in an ephemeral GX context (nothing to install or keep in sync on
EMR); its validation results live in memory, so a build renders the runs of this
process, that is the latest batch. The site is ours, named `SITE`: GX's own
default site (`local_site`) is not created at all.
"""

from __future__ import annotations

from typing import Any

from schemas.layout import Lake

SITE = "ottlake_quality"
INDEX = "index.html"


def site_config(lake: Lake) -> dict[str, Any]:
    """A Data Docs site at the lake's `_quality/docs`: a folder, or S3 for an s3:// lake."""
    if lake.is_local:
        backend: dict[str, Any] = {"class_name": "TupleFilesystemStoreBackend",
                                   "base_directory": lake.quality_docs.removeprefix("file:")}
    else:
        bucket, _, prefix = lake.quality_docs.split("://", 1)[1].partition("/")
        backend = {"class_name": "TupleS3StoreBackend", "bucket": bucket, "prefix": prefix}
    return {
        "class_name": "SiteBuilder",
        "store_backend": backend,
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
    }


def index(lake: Lake) -> str:
    """Where the docs' front page is (whether or not it was built yet)."""
    return f"{lake.quality_docs}/{INDEX}"


def build(context: Any) -> None:
    """Render every suite and validation result the context holds."""
    context.build_data_docs(site_names=[SITE])
