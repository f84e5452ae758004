from django import template

from beamtime.fitting.provenance import records

register = template.Library()


@register.inclusion_tag("fitting/_provenance.html", takes_context=True)
def provenance(context, dataset):
    """Where ``dataset`` came from, as the signed-in user may see it."""
    return {"dataset": dataset, "records": records(dataset, context["request"].user)}
