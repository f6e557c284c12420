"""Importing real ad-platform exports (Meta Ads Manager, Google Ads, TikTok Ads Manager,
LinkedIn Campaign Manager, Fivetran's ad_reporting tables) and any CSV through a column mapping,
as CSV/TSV or XLSX.

``preview`` shows what an import would store; ``import_file`` stores it in one transaction.
"""

from demetra.ingest.importer import (
    ImportPreview,
    ImportResult,
    import_file,
    make_plan,
    preview,
    sample_values,
)
from demetra.ingest.platforms import (
    FIELD_LABELS,
    FIELDS,
    PLATFORM_CHOICES,
    PLATFORM_LABELS,
    PLATFORMS,
    REQUIRED,
    detect,
    suggest_mapping,
)
from demetra.ingest.reader import ImportFileError, open_file

__all__ = [
    "FIELDS", "FIELD_LABELS", "ImportFileError", "ImportPreview", "ImportResult",
    "PLATFORMS", "PLATFORM_CHOICES", "PLATFORM_LABELS", "REQUIRED", "detect", "import_file",
    "make_plan", "open_file", "preview", "sample_values", "suggest_mapping",
]
