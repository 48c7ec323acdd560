"""nats-server configuration with one user per partner, for production.

Who may do what on the bus (CONTRACT.md):

- ``partner-<id>``: publish its own offers and withdrawals only
  (``kopdes.offer.upserted.<id>``, ``kopdes.offer.withdrawn.<id>``) and read its own
  notifications (``kopdes.notify.partner.<id>``): live with a core NATS subscription, or
  including those sent while it was away through the durable JetStream consumer
  ``partner-<id>`` on KOPDES_NOTIFY, filtered to its own subject, which the operator
  creates (``kopdes-match partner-consumers``): a partner cannot create consumers.
- ``simkopdes``: publish cooperative profiles (``kopdes.cooperative.upserted``).
- ``kopdes`` (the services): everything, since they manage streams and consumers.

**Every publisher is in an account of its own.** The services and their streams live in
the account ``KOPDES``; each partner and Simkopdes has its own account that imports only
its own subjects from it (service imports for what it publishes, a stream import for its
notifications). Permissions alone cannot stop a client from naming any subject as the
reply of an allowed request, and nats-server publishes the answer there: a JetStream
acknowledgement sent to ``kopdes.offer.upserted.<other>`` or ``kopdes.match.decided`` would
be stored in another partner's input or in KOPDES_MATCH. Across accounts the server sends
answers to a private ``_R_`` subject in ``KOPDES`` and hands them back in the requester's
account, where no stream listens. A consumer's ``deliver_subject`` is the same kind of
route, so partners get no consumer-creating API at all, only the information, next-message
and acknowledgement subjects of their one durable pull consumer.

JetStream publish acknowledgements come back on the publisher's reply inbox, so publishers
must be allowed to subscribe to an inbox. Each publisher keeps an inbox prefix of its own
(``_INBOX_<user>``) and must connect with it: ``nats.connect(...,
inbox_prefix="_INBOX_partner-bri")``; this keeps clients of one account apart too.

Passwords: generated with ``secrets.token_urlsafe`` (or given for the services user), kept
in plain text only in a separate credentials file written with mode 0600 for the operator
to hand out; the nats-server configuration holds bcrypt hashes (``$2a$``), which nats-server
verifies itself. Regenerating keeps existing passwords (adding a partner does not rotate the
others) unless ``rotate`` is asked.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from schemas import subjects
from services.platform.topology import NOTIFY

SERVICES_USER = "kopdes"
SIMKOPDES_USER = "simkopdes"
PARTNER_USER_PREFIX = "partner-"
DEFAULT_BCRYPT_COST = 11

# A partner id becomes one subject token: the contract's identifier rules minus the dot.
PARTNER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NatsConfigError(ValueError):
    """Bad input for the configuration: a clear message, never a traceback."""


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # What the user's account imports from the services' account: the subjects it may
    # publish to (service imports; MSG.NEXT answers with a stream of messages) and those it
    # may read that the services publish (stream imports). Its inbox is its own.
    responses: tuple[str, ...] = ()  # service imports answered by several messages

    def service_imports(self) -> tuple[tuple[str, str], ...]:
        """(subject in the user's account, subject in the services' account)."""
        return tuple((s, _services_side(s)) for s in self.publish)

    def stream_imports(self) -> tuple[str, ...]:
        return tuple(s for s in self.subscribe if not s.startswith("_INBOX"))


@dataclass(frozen=True)
class User:
    name: str
    # None: no restriction (the services' own user).
    permissions: Permissions | None
    role: str


@dataclass(frozen=True)
class Generated:
    config_path: Path
    credentials_path: Path
    users: tuple[User, ...]
    new_passwords: tuple[str, ...]  # users whose password was generated or rotated this time


def partner_user(partner_id: str) -> str:
    return PARTNER_USER_PREFIX + partner_id


def inbox_prefix(user: str) -> str:
    """The reply-inbox prefix a publishing client must connect with (see module doc)."""
    return f"_INBOX_{user}"


def check_partner_id(partner_id: str) -> str:
    if not PARTNER_ID.match(partner_id):
        raise NatsConfigError(
            f"partner id {partner_id!r} is not usable as a subject token: "
            "use 1 to 64 letters, digits, '_' or '-'"
        )
    return partner_id


def notification_consumer(partner_id: str) -> str:
    """The durable consumer on KOPDES_NOTIFY through which a partner catches up."""
    return partner_user(partner_id)


def notification_consumer_config(partner_id: str) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=notification_consumer(partner_id),
        filter_subject=subjects.notify_partner(partner_id),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=30,
        max_ack_pending=1000,
    )


async def ensure_partner_consumers(js: JetStreamContext, partner_ids: Iterable[str]) -> None:
    """Create (or keep) each partner's notification consumer, as the services' user.

    Partners may not create consumers: a consumer's ``deliver_subject`` would let one make
    the server publish anywhere in the services' account (see the module doc).
    """
    for partner_id in partner_ids:
        await js.add_consumer(NOTIFY.name, notification_consumer_config(partner_id))


# A JetStream API request in an account without JetStream is answered by the server in
# that account ("JetStream not enabled"), so partners reach the services' API under this
# prefix: ``nc.jetstream(prefix=PARTNER_API_PREFIX)``.
PARTNER_API_PREFIX = "JS.KOPDES.API"


def _services_side(subject: str) -> str:
    if subject.startswith(PARTNER_API_PREFIX + "."):
        return "$JS.API" + subject.removeprefix(PARTNER_API_PREFIX)
    return subject


def partner_permissions(partner_id: str) -> Permissions:
    user = partner_user(partner_id)
    own = subjects.notify_partner(partner_id)
    api = f"{PARTNER_API_PREFIX}.CONSUMER.%s.{NOTIFY.name}.{notification_consumer(partner_id)}"
    return Permissions(
        publish=(
            subjects.offer_upserted(partner_id),
            subjects.offer_withdrawn(partner_id),
            api % "INFO",
            api % "MSG.NEXT",
            f"$JS.ACK.{NOTIFY.name}.{notification_consumer(partner_id)}.>",
        ),
        subscribe=(own, inbox_prefix(user) + ".>"),
        responses=(api % "MSG.NEXT",),
    )


def simkopdes_permissions() -> Permissions:
    return Permissions(
        publish=(subjects.COOPERATIVE_UPSERTED,),
        subscribe=(inbox_prefix(SIMKOPDES_USER) + ".>",),
    )


def users_for(partner_ids: Iterable[str]) -> tuple[User, ...]:
    ids = list(dict.fromkeys(check_partner_id(p) for p in partner_ids))
    users = [
        User(SERVICES_USER, None, "the kopdes-match services"),
        User(SIMKOPDES_USER, simkopdes_permissions(), "Simkopdes cooperative profiles"),
    ]
    users += [User(partner_user(p), partner_permissions(p), f"partner {p}") for p in ids]
    return tuple(users)


def read_partners(spec: str) -> list[str]:
    """Partner ids from a file (TOML, JSON or one id a line) or a comma-separated list.

    TOML: ``partners = ["bri", "bni"]`` or ``[[partners]]`` tables with ``id``;
    JSON: a list of ids, or ``{"partners": [...]}`` in either shape.
    """
    path = Path(spec)
    if not path.is_file():
        if "/" in spec or spec.endswith((".toml", ".json", ".txt")):
            raise NatsConfigError(f"partners file {spec} not found")
        ids = [p.strip() for p in spec.split(",") if p.strip()]
    else:
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".toml":
                ids = _ids_from(tomllib.loads(text), path)
            elif path.suffix == ".json":
                ids = _ids_from(json.loads(text), path)
            else:
                lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
                ids = [line for line in lines if line]
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise NatsConfigError(f"{path}: {exc}") from None
    if not ids:
        raise NatsConfigError(f"no partner ids in {spec!r}")
    for partner_id in ids:
        check_partner_id(partner_id)
    return ids


def _ids_from(data: object, path: Path) -> list[str]:
    items = data.get("partners") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise NatsConfigError(f"{path}: expected a list of partners (key 'partners')")
    ids: list[str] = []
    for item in items:
        value = item.get("id") if isinstance(item, Mapping) else item
        if not isinstance(value, str):
            raise NatsConfigError(f"{path}: partner entry {item!r} has no string id")
        ids.append(value)
    return ids


def hash_password(password: str, cost: int = DEFAULT_BCRYPT_COST) -> str:
    # nats-server recognises bcrypt hashes by their "$2a$" style prefix.
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2a")).decode()


def load_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise NatsConfigError(f"credentials file {path} is not JSON: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("password"), str) for v in users.values()
    ):
        raise NatsConfigError(f"credentials file {path} has no 'users' with passwords")
    return {name: entry["password"] for name, entry in users.items()}


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (mode 0600) from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def credentials_document(users: Sequence[User], passwords: Mapping[str, str]) -> str:
    doc = {
        "comment": "Generated by kopdes-match nats-config. Secret: hand each user its own entry.",
        "users": {
            u.name: {
                "password": passwords[u.name],
                "role": u.role,
                **({"inbox_prefix": inbox_prefix(u.name)} if u.permissions else {}),
                **(
                    {"jetstream_api_prefix": PARTNER_API_PREFIX}
                    if u.name.startswith(PARTNER_USER_PREFIX)
                    else {}
                ),
            }
            for u in users
        },
    }
    return json.dumps(doc, indent=2) + "\n"


def _quote(value: str) -> str:
    # JSON strings are valid nats-server config strings; quoting keeps "$2a$..." from being
    # read as a variable reference.
    return json.dumps(value)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


SERVICES_ACCOUNT = "KOPDES"


def account_of(user: User) -> str:
    return SERVICES_ACCOUNT if user.permissions is None else user.name


def _user_entry(user: User, password_hash: str) -> list[str]:
    entry = f"      {{user: {_quote(user.name)}, password: {_quote(password_hash)}"
    if user.permissions is None:
        return [entry + "}"]
    return [
        entry + ", permissions: {",
        f"        publish: {{allow: {_list(user.permissions.publish)}}}",
        f"        subscribe: {{allow: {_list(user.permissions.subscribe)}}}",
        "      }}",
    ]


def _exports(users: Sequence[User]) -> list[str]:
    lines: list[str] = []
    for user in users:
        if user.permissions is None:
            continue
        to = f"accounts: [{_quote(account_of(user))}]"
        for local, subject in user.permissions.service_imports():
            stream = ", response_type: stream" if local in user.permissions.responses else ""
            lines.append(f"      {{service: {_quote(subject)}{stream}, {to}}}")
        for subject in user.permissions.stream_imports():
            lines.append(f"      {{stream: {_quote(subject)}, {to}}}")
    return lines


def _imports(permissions: Permissions) -> list[str]:
    source = f"account: {_quote(SERVICES_ACCOUNT)}"
    return [
        f"      {{service: {{{source}, subject: {_quote(remote)}}}"
        + ("" if local == remote else f", to: {_quote(local)}")
        + "}"
        for local, remote in permissions.service_imports()
    ] + [
        f"      {{stream: {{{source}, subject: {_quote(s)}}}}}"
        for s in permissions.stream_imports()
    ]


def render_config(
    users: Sequence[User],
    hashes: Mapping[str, str],
    *,
    store_dir: str,
    server_name: str | None = None,
) -> str:
    lines = [
        "# nats-server configuration generated by `kopdes-match nats-config`.",
        "# Passwords are bcrypt hashes; the plain passwords are in the credentials file.",
        "# Cluster routes, ports and the monitoring port may be given as command-line flags.",
        "# Each publisher has an account of its own that imports only its own subjects from",
        "# the services' account KOPDES, so that no reply or delivery subject it names can",
        "# make the server publish into another partner's lane.",
    ]
    if server_name:
        lines.append(f"server_name: {_quote(server_name)}")
    lines += [
        "",
        "jetstream {",
        f"  store_dir: {_quote(store_dir)}",
        "}",
        "",
        "accounts {",
        f"  {_quote(SERVICES_ACCOUNT)}: {{",
        "    jetstream: enabled",
        "    users: [",
    ]
    for user in users:
        if user.permissions is None:
            lines += [f"      # {user.role}", *_user_entry(user, hashes[user.name])]
    lines += ["    ]", "    exports: [", *_exports(users), "    ]", "  }"]
    for user in users:
        if user.permissions is None:
            continue
        lines += [
            f"  # {user.role}",
            f"  {_quote(account_of(user))}: {{",
            "    users: [",
            *_user_entry(user, hashes[user.name]),
            "    ]",
            "    imports: [",
            *_imports(user.permissions),
            "    ]",
            "  }",
        ]
    lines += ["}", ""]
    return "\n".join(lines)


def generate(
    partner_ids: Iterable[str],
    out: Path,
    *,
    credentials: Path | None = None,
    services_password: str | None = None,
    rotate: bool = False,
    store_dir: str = "/data/jetstream",
    server_name: str | None = None,
    bcrypt_cost: int = DEFAULT_BCRYPT_COST,
) -> Generated:
    """Write the nats-server configuration and the credentials file (mode 0600)."""
    users = users_for(partner_ids)
    credentials = credentials or out.with_name(out.stem + ".credentials.json")
    if credentials.resolve() == out.resolve():
        raise NatsConfigError("the credentials file must not be the configuration file")
    known = {} if rotate else load_credentials(credentials)
    passwords: dict[str, str] = {}
    new: list[str] = []
    for user in users:
        if user.name == SERVICES_USER and services_password:
            passwords[user.name] = services_password
            if known.get(user.name) != services_password:
                new.append(user.name)
        elif user.name in known:
            passwords[user.name] = known[user.name]
        else:
            passwords[user.name] = secrets.token_urlsafe(24)
            new.append(user.name)
    hashes = {name: hash_password(pw, bcrypt_cost) for name, pw in passwords.items()}
    write_private(credentials, credentials_document(users, passwords))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        render_config(users, hashes, store_dir=store_dir, server_name=server_name),
        encoding="utf-8",
    )
    return Generated(out, credentials, users, tuple(new))
