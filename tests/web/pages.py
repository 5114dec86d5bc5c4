"""Every page of the application, in every state worth checking, as each role sees it.

`PAGES` is the one list the page-wide browser checks walk (tests/web/test_accessibility.py:
axe-core at 1280 px, no sideways scrolling at 360 px). **A new page gets a `Visit` here.**

    Visit(role, path, state, submit=None)

- `role`: who looks, one of `ROLES` (`anonymous`, `referrer`, `admin` for an organization
  admin, `coordinator`); each is a demo user signed in once per test session.
- `path`: the address, with `{placeholders}` filled from `Fixtures` (data the checks create
  before they start: a sent referral and the ids of demo records).
- `state`: what the page shows, for the test's name and the report: `filled` (with results
  or records), `empty` (a list or search with nothing in it), `form` (a blank form),
  `errors` (the page after a submit the server refused).
- `submit`: for `errors` (or a page reached by a form), the name of the button to press. The
  browser's own validation is switched off first (`form.noValidate`) so the server's messages
  are the ones checked, and the form is sent as it stands: blank, or with the values in
  `fill` (`{css selector: value}`) and the files in `upload` (`{css selector: path from the
  repository's root}`).

A page that exists only when another branch's feature is merged still belongs here: a
`Visit` whose path answers 404 fails the checks, so add it with the feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = {
    "anonymous": None,
    "referrer": "referrer@taskforce.demo.example",
    "admin": "admin@safehome.demo.example",
    "coordinator": "coordinator@demo.example",
}
SAFE_HOME = "live-oak-hill-ministries-safe-home-houston"
TASK_FORCE = "harris-county-human-trafficking-task-force-houston"
SECOND_SHELTER = "bridgeway-house-for-youth-columbus"


@dataclass(frozen=True)
class Visit:
    role: str
    path: str
    state: str
    submit: str | None = None
    fill: dict[str, str] = field(default_factory=dict)
    upload: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.role}:{self.path}:{self.state}"


@dataclass(frozen=True)
class Fixtures:
    """Records the checks create or look up before they start (see test_accessibility.py)."""

    referral: str  # public id of a referral sent by the task force to the safe home
    user: int  # the id of the safe home's referrer

    def fill(self, path: str) -> str:
        return path.format(referral=self.referral, user=self.user)


PAGES: list[Visit] = [
    # Anonymous visitors: sign-in, joining, passwords, and errors.
    Visit("anonymous", "/login", "form"),
    Visit("anonymous", "/login", "errors", submit="Sign in"),
    Visit("anonymous", "/apply", "form"),
    Visit("anonymous", "/apply", "errors", submit="Send the application"),
    Visit("anonymous", "/password/forgot", "form"),
    Visit("anonymous", "/password/forgot", "errors", submit="Send the link"),
    Visit("anonymous", "/password/reset/not-a-token", "empty"),
    Visit("anonymous", "/no-such-page", "empty"),
    # The public transparency page (the walk switches DIRECTORY_PUBLIC_REPORT on).
    Visit("anonymous", "/reports/public", "form"),
    Visit("anonymous", "/reports/public?service=legal.immigration", "filled"),
    # A referrer: the directory, search, the referral flow, their account.
    Visit("referrer", "/", "filled"),
    Visit("referrer", "/search", "form"),
    Visit("referrer", "/search?near=77002&service=shelter", "filled"),
    Visit("referrer", "/search?near=Houston%2C+TX&mode=covering", "filled"),
    Visit("referrer", "/search?near=59001&radius=10&service=legal.immigration", "empty"),
    Visit("referrer", "/search?near=Atlantis%2C+ZZ", "errors"),
    Visit("referrer", "/organizations", "filled"),
    Visit("referrer", "/organizations?q=no+such+organization", "empty"),
    Visit("referrer", f"/organizations/{SAFE_HOME}", "filled"),
    Visit("referrer", f"/organizations/{TASK_FORCE}", "filled"),
    Visit("referrer", f"/referrals/new?to={SAFE_HOME}", "form"),
    Visit("referrer", f"/referrals/new?to={SAFE_HOME}", "errors", submit="Send referral"),
    Visit("referrer", f"/referrals/placements/new?to={SAFE_HOME}&to={SECOND_SHELTER}", "form"),
    Visit("referrer", f"/referrals/placements/new?to={SAFE_HOME}&to={SECOND_SHELTER}",
          "errors", submit="Send placement request"),
    Visit("referrer", "/referrals/outbox", "filled"),
    Visit("referrer", "/referrals/inbox", "empty"),
    Visit("referrer", "/referrals/{referral}", "filled"),
    Visit("referrer", "/referrals/notifications", "filled"),
    Visit("referrer", "/account", "form"),
    Visit("referrer", "/account", "errors", submit="Change password"),
    Visit("referrer", "/account/tokens", "empty"),
    Visit("referrer", "/account/tokens", "errors", submit="Create token"),
    Visit("referrer", "/account/two-factor", "form"),
    Visit("referrer", f"/organizations/{TASK_FORCE}/members", "filled"),
    # An organization admin: the receiving side, the listing's coverage, the members.
    Visit("admin", "/referrals/inbox", "filled"),
    Visit("admin", "/referrals/outbox", "empty"),
    Visit("admin", "/referrals/{referral}", "filled"),
    Visit("admin", "/referrals/notifications", "filled"),
    Visit("admin", f"/organizations/{SAFE_HOME}", "filled"),
    Visit("admin", f"/organizations/{SAFE_HOME}/coverage", "filled"),
    Visit("admin", f"/organizations/{SAFE_HOME}/coverage", "errors", submit="Add coverage area"),
    Visit("admin", f"/organizations/{SAFE_HOME}/members", "filled"),
    Visit("admin", f"/reports/organizations/{SAFE_HOME}/grants", "filled"),
    Visit("admin", f"/organizations/{SAFE_HOME}/members", "errors",
          submit="Send the invitation"),
    Visit("admin", f"/organizations/{SAFE_HOME}/edit", "form"),
    Visit("admin", f"/organizations/{SAFE_HOME}/locations/new", "form"),
    Visit("admin", f"/organizations/{SAFE_HOME}/history", "filled"),
    Visit("admin", f"/reports/organizations/{SAFE_HOME}", "filled"),
    # A coordinator: the network's administration and reports.
    Visit("coordinator", "/", "filled"),
    Visit("coordinator", "/admin/", "filled"),
    Visit("coordinator", "/admin/applications", "empty"),
    Visit("coordinator", "/admin/organizations", "filled"),
    Visit("coordinator", f"/admin/organizations/{SAFE_HOME}", "filled"),
    Visit("coordinator", "/admin/users", "filled"),
    Visit("coordinator", "/admin/users/{user}", "filled"),
    Visit("coordinator", "/admin/audit", "filled"),
    Visit("coordinator", "/reports/", "filled"),
    Visit("coordinator", "/reports/gaps", "form"),
    Visit("coordinator", "/reports/gaps?service=shelter", "filled"),
    Visit("coordinator", "/reports/gaps?service=shelter.youth&population=adolescents", "filled"),
    Visit("coordinator", "/reports/partners", "filled"),
    Visit("coordinator", "/reports/grants", "filled"),
    Visit("coordinator", "/reports/freshness", "filled"),
    Visit("coordinator", f"/admin/organizations/{SAFE_HOME}", "errors",
          submit="Record the agreement", fill={"#signed_on": "2099-01-01"}),
    Visit("coordinator", "/listings/stale", "filled"),
    Visit("coordinator", "/admin/import-csv", "form"),
    Visit("coordinator", "/admin/import-csv", "filled", submit="Preview the import", upload={
        "#spreadsheet": "tests/hsds/fixtures/spreadsheet/partners.csv",
        "#mapping_file": "tests/hsds/fixtures/spreadsheet/mapping.toml"}),
    Visit("coordinator", "/search?near=77002", "filled"),
]
