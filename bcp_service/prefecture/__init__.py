"""Prefecture review: aggregates per 圏域 with no personal data (URL paths under ``/reports/prefecture``)."""
