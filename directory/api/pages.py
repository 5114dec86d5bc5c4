"""The account page where a user creates and revokes their personal API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from directory.accounts.permissions import Permission, require
from directory.api.forms import TokenForm
from directory.api.operations import TokenError, create_token, list_tokens, revoke_token

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _page(form: TokenForm, secret: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("api/tokens.html", form=form, secret=secret,
                           tokens=list_tokens(current_user)), status


@bp.get("")
def index() -> tuple[str, int]:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    return _page(TokenForm())


@bp.post("")
def create() -> tuple[str, int]:
    """Shows the new token once, on this response; it is never stored or shown again."""
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        _token, secret = create_token(current_user, (form.name.data or "").strip(),
                                 int(form.expires_in_days.data or 0))
    except TokenError as exc:
        form.name.errors = [str(exc)]
        return _page(form, status=400)
    return _page(TokenForm(formdata=None), secret=secret)


@bp.post("/<int:token_id>/revoke")
def revoke(token_id: int) -> Response:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    try:
        token = revoke_token(current_user, token_id)
    except TokenError as exc:
        raise NotFound() from exc
    flash(_("Token “%(name)s” revoked: it no longer works.", name=token.name), "success")
    return redirect(url_for("tokens.index"))
