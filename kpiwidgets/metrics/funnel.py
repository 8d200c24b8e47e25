"""Funnels over event logs (semantics: specs/funnel.md). Placeholder until implemented."""


def _todo(*args, **kwargs):
    raise NotImplementedError("funnel metrics are being implemented")


funnel = funnel_entities = funnel_trend = time_to_convert = segment_comparison = _todo
