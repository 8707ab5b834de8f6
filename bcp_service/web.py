"""The web shell: navigation per role and the landing page (with the panels ``wiring.HOME_PANELS``
lists for a role, e.g. a field team's open tasks).

The navigation entries are listed in ``bcp_service/wiring.py`` (``NAV``) and live on the app
(``app.extensions["nav"]``)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from bcp_service.auth.roles import ROLE_LABELS, Role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: frozenset[Role]
    order: int
    description: str = ""


def nav_item(endpoint: str, label: str, roles, *, order: int = 50, description: str = "") -> NavItem:
    """A link in the navigation: shown to ``roles`` (Role members or their values), sorted by ``order``."""
    return NavItem(endpoint, label, frozenset(Role(r) for r in roles), order, description)


def nav_for(role: Role) -> list[NavItem]:
    """Links this role may use, to pages that exist in this app: no placeholders."""
    items = current_app.extensions.get("nav", ())
    return sorted((item for item in items
                   if role in item.roles and item.endpoint in current_app.view_functions),
                  key=lambda item: (item.order, item.label))


bp = Blueprint("web", __name__)


@bp.app_context_processor
def _inject_nav():
    if current_user.is_authenticated:
        role = Role(current_user.role)
        return {"nav_items": nav_for(role), "role_label": ROLE_LABELS[role]}
    return {"nav_items": [], "role_label": None}


@bp.get("/")
@login_required
def landing():
    role = Role(current_user.role)
    panels = []
    if any(r is role for r, _ in current_app.extensions.get("home_panels", ())):
        from bcp_service.auth import current_actor

        actor = current_actor()
        panels = [fn(actor) for r, fn in current_app.extensions["home_panels"] if r is role]
    return render_template("landing.html", items=nav_for(role), role=role, role_label=ROLE_LABELS[role],
                           panels=panels)
