"""A small network in Delaware and Rhode Island with hand-computed coverage (see ``build``).

Delaware's counties: Kent 10001, New Castle 10003, Sussex 10005. Rhode Island's: Bristol
44001, Kent 44003, Newport 44005, Providence 44007, Washington 44009. Distances from Dover's
centre (the gazetteer's, 39.1565 N 75.5431 W) to the nearest point of New Castle County:
10.7 mi; of Sussex County: 16.0 mi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from directory.orgs.coverage import add_coverage_area
from directory.orgs.models import MembershipStatus, Organization
from tests.factories import Factory

BRISTOL_RI = (41.6785, -71.271)  # a point in Bristol County, RI


def location(city: str, state: str, postal_code: str, **more: Any) -> dict[str, Any]:
    return {"name": "Office", "address": "", "city": city, "state": state,
            "postal_code": postal_code, "hours": [], **more}


@dataclass
class GapNetwork:
    members: dict[str, Organization]


def build(factory: Factory) -> GapNetwork:
    """
    ====  ==========================  ==========================================  ===========
    org   services, population        coverage                                    counts for
    ====  ==========================  ==========================================  ===========
    a     shelter.emergency           county New Castle DE                        shelter
    b     shelter.youth, adolescents  5 mi around Dover DE (Kent only)            shelter
    c     shelter (suspended)         state DE                                    nothing
    d     shelter (not accepting)     state RI                                    nothing
    e     legal, shelter              state DE for legal only; county Providence  shelter: PV
    f     shelter                     ZIP 02840 (Newport)                         shelter
    g     shelter                     drawn square round Wakefield (Washington)   shelter
    h     shelter.safe_house          2 mi round its confidential house, listed   Providence
                                      in Providence, standing in Bristol County   (not Bristol)
    i     hotline                     13 mi around Dover: Kent and New Castle     hotline
    ====  ==========================  ==========================================  ===========

    Gaps for "shelter": Sussex DE, Bristol RI and Kent RI.
    """
    members = {
        "a": factory.organization(services=["shelter.emergency"],
                                  locations=[location("Wilmington", "DE", "19801")]),
        "b": factory.organization(services=["shelter.youth"], populations=["adolescents"],
                                  locations=[location("Dover", "DE", "19901")]),
        "c": factory.organization(services=["shelter"], status=MembershipStatus.SUSPENDED,
                                  locations=[location("Georgetown", "DE", "19947")]),
        "d": factory.organization(services=["shelter"], accepting_referrals=False,
                                  locations=[location("Providence", "RI", "02903")]),
        "e": factory.organization(services=["legal", "shelter"],
                                  locations=[location("Providence", "RI", "02903")]),
        "f": factory.organization(services=["shelter"],
                                  locations=[location("Newport", "RI", "02840")]),
        "g": factory.organization(services=["shelter"],
                                  locations=[location("Wakefield", "RI", "02879")]),
        "h": factory.organization(services=["shelter.safe_house"], locations=[location(
            "Providence", "RI", "", latitude=BRISTOL_RI[0], longitude=BRISTOL_RI[1],
            confidential=True)]),
        "i": factory.organization(services=["hotline"],
                                  locations=[location("Dover", "DE", "19901")]),
    }
    m = members
    add_coverage_area(m["a"], {"kind": "county", "state": "DE", "county": "New Castle"})
    add_coverage_area(m["b"], {"kind": "radius", "radius_mi": 5, "center": "Dover, DE"})
    add_coverage_area(m["c"], {"kind": "state", "state": "DE"})
    add_coverage_area(m["d"], {"kind": "state", "state": "RI"})
    add_coverage_area(m["e"], {"kind": "state", "state": "DE", "services": ["legal"]})
    add_coverage_area(m["e"], {"kind": "county", "state": "RI", "county": "Providence"})
    add_coverage_area(m["f"], {"kind": "zip", "postal_code": "02840"})
    lat, lon = 41.4277, -71.5364
    square = [[lon - 0.03, lat - 0.03], [lon + 0.03, lat - 0.03], [lon + 0.03, lat + 0.03],
              [lon - 0.03, lat + 0.03], [lon - 0.03, lat - 0.03]]
    add_coverage_area(m["g"], {"kind": "polygon", "geojson":
                               f'{{"type":"Polygon","coordinates":[{square}]}}'})
    add_coverage_area(m["h"], {"kind": "radius", "radius_mi": 2,
                               "location_id": m["h"].locations[0].id})
    add_coverage_area(m["i"], {"kind": "radius", "radius_mi": 13, "center": "Dover, DE"})
    return GapNetwork(members)
