"""`assettag keys create|list|revoke`: manage API keys from the shell (e.g. the first admin key)."""

from __future__ import annotations

import argparse
import datetime

from core.db.enums import ApiKeyRole
from core.errors import CommandError
from core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="issue a key and print it (shown only once)")
    create.add_argument("--name", required=True, help="who or what uses the key, e.g. 'ops laptop'")
    create.add_argument("--role", default="viewer", help="viewer (read), operator (act) or admin (manage)")
    create.add_argument(
        "--expires-days", type=float, default=None, help="valid for this many days (default: no expiry)"
    )
    actions.add_parser("list", help="list keys (prefix, name, role, last use)")
    revoke = actions.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix", help="the key's prefix as shown by `assettag keys list`")


def _role(value: str) -> ApiKeyRole:
    try:
        return ApiKeyRole(value.lower())
    except ValueError:
        raise CommandError(f"--role: expected one of viewer, operator, admin; got {value!r}") from None


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import select

    from api.keys.secrets import hash_key, key_prefix, new_key
    from core.db.engine import make_engine, redacted, session_factory
    from core.db.models import ApiKey, AuditLogEntry

    url = get_settings().database_url
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            if args.action == "create":
                role = _role(args.role)
                if not args.name.strip() or len(args.name) > 200:
                    raise CommandError("--name: expected 1-200 characters")
                expires = None
                if args.expires_days is not None:
                    if not args.expires_days > 0:
                        raise CommandError(f"--expires-days: must be > 0, got {args.expires_days}")
                    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=args.expires_days)
                secret = new_key()
                key = ApiKey(
                    name=args.name.strip(),
                    prefix=key_prefix(secret),
                    key_hash=hash_key(secret),
                    role=role.value,
                    expires_at=expires,
                )
                session.add(key)
                session.flush()
                session.add(
                    AuditLogEntry(
                        actor="cli",
                        action="create",
                        entity="api_key",
                        entity_id=str(key.id),
                        details={"name": key.name, "role": key.role},
                    )
                )
                session.commit()
                print(secret)
                print(
                    f"({role.value} key '{key.name}', prefix {key.prefix}; store it now, it is not shown again)"
                )
            elif args.action == "list":
                for key in session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars():
                    state = "revoked" if key.revoked_at else "active"
                    used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
                    print(f"{key.prefix}  {key.role:<8}  {state:<7}  last used {used:<25}  {key.name}")
            else:
                key = session.execute(select(ApiKey).where(ApiKey.prefix == args.prefix)).scalar_one_or_none()
                if key is None:
                    raise CommandError(
                        f"prefix: no key with prefix {args.prefix!r} (see `assettag keys list`)"
                    )
                key.revoked_at = key.revoked_at or datetime.datetime.now(datetime.UTC)
                session.add(
                    AuditLogEntry(
                        actor="cli", action="revoke", entity="api_key", entity_id=str(key.id), details={}
                    )
                )
                session.commit()
                print(f"revoked {key.prefix} ({key.name}); servers stop accepting it within 30 s")
    except sa_exc.SQLAlchemyError as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        hint = (
            " (run `assettag db upgrade` first?)"
            if "no such table" in first or "does not exist" in first
            else ""
        )
        raise CommandError(f"database at {redacted(url)}: {first}{hint}") from None
    finally:
        engine.dispose()
    return 0
