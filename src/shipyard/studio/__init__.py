"""The studio: Shipyard's web interface, served by the server itself at ``/studio``.

Server-rendered pages (Jinja2 templates, autoescaped) with htmx for the parts that
update in place (a running job's log and metrics). No Node at install time, no CDN, no
download at run time: the one third-party asset, ``static/htmx.min.js``, is vendored
and pinned (``static/LICENSES.md``).

Modules:

- ``_security``: who the browser is and what it may send.
  - :class:`StudioSessions`: the session cookie (``shipyard_studio``, ``Path=/studio``,
    HttpOnly, SameSite=Strict, expiring; an HMAC over the token's name, the expiry and
    the token's stored hash, as the API docs' cookie is) and its CSRF token (an HMAC of
    the cookie: nothing stored per session).
  - :class:`LoginLinks`: one-time sign-in links (``shipyard studio``): a random code,
    kept hashed in this server's memory for 5 minutes, good once.
  - :class:`StudioGate`: called by the auth middleware for every ``/studio`` request:
    the Host-header check (a DNS-rebinding page cannot reach the studio), the session,
    the security headers (a Content-Security-Policy with no inline script and
    ``frame-ancestors 'none'``), and the CSRF check of every state-changing request.
- ``_pages``: the routes of sign-in, home, jobs and models. Every page reads through the
  same services as the REST API; every action a page offers is the REST route's own
  check (role, then ownership, via :func:`shipyard.api._auth.require` and
  :data:`shipyard.api._owners.LOOKUPS`) followed by the same service call. Buttons a role
  cannot use are not rendered, and the server refuses the action anyway.
- ``_pages_datasets``, ``_pages_experiments``, ``_pages_endpoints``, ``_pages_monitors``,
  ``_pages_pipelines``, ``_pages_canvas``, ``_pages_labeling``: each section's pages, on
  the same terms (``_web`` holds what they share); ``_charts`` draws their SVG charts
  and ``_lineage`` an object's lineage tree.
- ``_nav``: the sections of the navigation, in order, each with the permissions that show
  it. A capability that lands later adds its section here and its page module to
  ``_pages.include``.

See docs/studio.md.
"""

from __future__ import annotations

from shipyard.studio._security import COOKIE, PREFIX, LoginLinks, StudioGate

__all__ = ["COOKIE", "PREFIX", "LoginLinks", "StudioGate"]
