"""Flask extensions, created unbound and attached in create_app()."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "ログインしてください。"
login_manager.session_protection = "strong"

csrf = CSRFProtect()
# Storage defaults to memory (one process); set RATELIMIT_STORAGE_URI=redis://… for several workers.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
