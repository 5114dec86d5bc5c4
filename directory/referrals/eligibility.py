"""Whether a client fits what a partner lists: a warning before sending, never a refusal.

A partner's populations served may name age groups (children, adolescents, young adults,
adults) and other populations (women, men, foreign nationals, survivors of labor
trafficking...). When it names some age groups and none of them takes in the client's age
range, or names some other populations and the client's population (a referral's optional
``population``) is not one of them, the sender is warned and may go ahead
(``acknowledge_mismatch``); the referral's timeline then says so. A client's population not
asked or declined is never a mismatch.
"""

from __future__ import annotations

from flask_babel import gettext as _

from directory.orgs.models import Organization, Population
from directory.referrals.models import AGE_GROUPS, client_population_label

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
    """Why the client may be outside what ``receiver`` lists, in the request's language; None
    when they fit or the listing names no age group."""
    listed = [population for population in receiver.population_codes
              if population in AGE_GROUPS]
    fitting = FITTING_GROUPS.get(age_range)
    if not listed or fitting is None or fitting & set(listed):
        return None
    groups = ", ".join(population.label for population in listed)
    return _("%(name)s lists only %(groups)s: a client aged %(age)s is outside what it serves.",
             name=receiver.name, groups=groups, age=age_range)


def population_mismatch(receiver: Organization, population: str | None) -> str | None:
    """Why the client's population may be outside what ``receiver`` lists, in words; None when
    it is listed, unknown (not recorded, not asked, declined) or the listing names no
    population other than age groups."""
    if not population or population not in Population._value2member_map_:
        return None
    listed = [code for code in receiver.population_codes if code not in AGE_GROUPS]
    if not listed or Population(population) in listed:
        return None
    names = ", ".join(code.label for code in listed)
    return _("%(name)s lists the populations it serves as %(populations)s: the client's "
             "population (%(population)s) is not among them.", name=receiver.name,
             populations=names, population=client_population_label(population))


def warnings(receiver: Organization, age_range: str, population: str | None) -> str | None:
    """Every reason the client may not fit ``receiver``, in one message; None when they fit."""
    found = [message for message in (mismatch(receiver, age_range),
                                      population_mismatch(receiver, population)) if message]
    return " ".join(found) or None
