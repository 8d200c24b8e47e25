"""Cohort retention (semantics: specs/retention.md). Placeholder until implemented."""


def _todo(*args, **kwargs):
    raise NotImplementedError("retention metrics are being implemented")


cohort_retention = retention_triangle = average_retention = _todo
