"""Whether a client fits what a partner lists: a warning before sending, never a refusal.

A partner's populations served may name age groups (children, adolescents, young adults,
adults). When it names some and none of them takes in the client's age range, the sender is
warned and may go ahead (``acknowledge_mismatch``); the referral's timeline then says so.
"""

from __future__ import annotations

from directory.orgs.models import Organization, Population

AGE_GROUPS = frozenset({Population.CHILDREN, Population.ADOLESCENTS, Population.YOUNG_ADULTS,
                        Population.ADULTS})
# The age groups that take in each of the referral's age ranges.
FITTING_GROUPS: dict[str, frozenset[Population]] = {
    "0-11": frozenset({Population.CHILDREN}),
    "12-17": frozenset({Population.ADOLESCENTS}),
    "18-24": frozenset({Population.YOUNG_ADULTS, Population.ADULTS}),
    "25-39": frozenset({Population.ADULTS}),
    "40-59": frozenset({Population.ADULTS}),
    "60+": frozenset({Population.ADULTS}),
}


def mismatch(receiver: Organization, age_range: str) -> str | None:
    """Why the client may be outside what ``receiver`` lists, in words; None when they fit or
    the listing names no age group."""
    listed = [population for population in receiver.population_codes
              if population in AGE_GROUPS]
    fitting = FITTING_GROUPS.get(age_range)
    if not listed or fitting is None or fitting & set(listed):
        return None
    groups = ", ".join(population.label for population in listed)
    return (f"{receiver.name} lists only {groups}: a client aged {age_range} is outside what "
            "it serves.")
