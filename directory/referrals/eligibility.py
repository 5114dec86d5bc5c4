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

import json
from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class Mismatch:
    """What the partner lists and the client's answers that it does not cover, in codes: the
    timeline keeps it (``stored``) and words it in each reader's language (``text``)."""

    name: str
    age_range: str = ""
    listed_ages: tuple[str, ...] = ()  # set when the age range is outside them
    population: str = ""
    listed_populations: tuple[str, ...] = ()  # set when the population is outside them

    def text(self) -> str:
        """The warning in the request's language."""
        found = []
        if self.listed_ages:
            found.append(_("%(name)s lists only %(groups)s: a client aged %(age)s is outside "
                           "what it serves.", name=self.name, age=self.age_range,
                           groups=", ".join(Population(code).label
                                            for code in self.listed_ages)))
        if self.listed_populations:
            found.append(_("%(name)s lists the populations it serves as %(populations)s: the "
                           "client's population (%(population)s) is not among them.",
                           name=self.name, population=client_population_label(self.population),
                           populations=", ".join(Population(code).label
                                                 for code in self.listed_populations)))
        return " ".join(found)

    def stored(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def find_mismatch(receiver: Organization, age_range: str,
                  population: str | None) -> Mismatch | None:
    """Every reason the client may not fit ``receiver``; None when they fit. An age range is a
    mismatch when the listing names age groups and none takes it in; a population, when it is
    a known population (not unrecorded, not asked, declined) and the listing names others but
    not it."""
    ages = [code for code in receiver.population_codes if code in AGE_GROUPS]
    others = [code for code in receiver.population_codes if code not in AGE_GROUPS]
    fitting = FITTING_GROUPS.get(age_range)
    ages_outside = bool(ages and fitting is not None and not fitting & set(ages))
    population_outside = bool(population and population in Population._value2member_map_
                              and others and Population(population) not in others)
    if not ages_outside and not population_outside:
        return None
    return Mismatch(receiver.name, age_range,
                    tuple(code.value for code in ages) if ages_outside else (), population or "",
                    tuple(code.value for code in others) if population_outside else ())


def warnings(receiver: Organization, age_range: str, population: str | None) -> str | None:
    """Every reason the client may not fit ``receiver``, in one message; None when they fit."""
    found = find_mismatch(receiver, age_range, population)
    return found.text() if found else None


def stored_warning_text(note: str) -> str:
    """A timeline's stored warning in the reader's language (``Mismatch.stored``); a warning
    stored as words before codes were kept is shown as it was written."""
    try:
        return Mismatch(**{name: tuple(value) if isinstance(value, list) else value
                           for name, value in json.loads(note).items()}).text()
    except (ValueError, TypeError, AttributeError):
        return note
