"""``shipyard tokens reset-admin``: a new admin token for a home whose token was lost.

It works on the home's store directly, with the server stopped or running, so it is
guarded by the one thing a lost token leaves: the OS. Only the OS user who owns the
home folder may run it (root included: a root-run reset of someone else's home would
leave a credentials file the server's user cannot read).
"""

from __future__ import annotations

import os
import pwd

from shipyard.errors import Forbidden, NotFound
from shipyard.settings import Settings
from shipyard.store import Database, EventLog, TokenRecord, upgrade
from shipyard.tokens._service import TokenService


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def reset_admin(settings: Settings) -> TokenRecord:
    """Write a working admin token to ``settings.credentials_path`` (see the module doc).

    Raises:
        NotFound: the home does not exist or holds no Shipyard store.
        Forbidden: the caller is not the OS user who owns the home.
    """
    home = settings.home
    if not home.is_dir():
        raise NotFound(f"No Shipyard home at {home}; pass --home with the folder the server "
                       "uses.")
    owner, me = home.stat().st_uid, os.geteuid()
    if owner != me:
        raise Forbidden(
            f"The home {home} belongs to OS user {_user(owner)!r}, and only that user may reset "
            f"its admin token; run it as that user (sudo -u {_user(owner)} shipyard tokens "
            f"reset-admin --home {home}).")
    if settings.database_url is None and not (home / "shipyard.db").is_file():
        raise NotFound(f"{home} holds no Shipyard store (no shipyard.db); start the server "
                       "there once, or pass the --home it uses.")
    db = Database(settings.db_url)
    try:
        upgrade(db)
        tokens = TokenService(db, EventLog(db))
        return tokens.reset_admin(settings.credentials_path, settings.url,
                                  actor=f"reset-admin (OS user {_user(me)})")
    finally:
        db.dispose()
