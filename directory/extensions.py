"""Flask extensions, created unbound and bound to each app by create_app()."""

from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = _l("Please sign in to see the directory.")
# flask-login flashes the message through this; the session stores the translated text.
login_manager.localize_callback = str
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

csrf = CSRFProtect()

# Only routes that ask for it are limited (sign-in, two-factor, password reset, applications);
# the storage comes from DIRECTORY_RATELIMIT_STORAGE (memory:// or redis://...).
limiter = Limiter(key_func=get_remote_address)
