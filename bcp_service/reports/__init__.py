"""Prefecture review: aggregates per 圏域 with no personal data."""
