"""People: import from CSV/XLSX (all rows or none), accounts, passwords."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased
from werkzeug.security import check_password_hash, generate_password_hash

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import ACCOUNT_ROLES, GLOBAL_ROLES, PersonAttribute
from opsperf.engine.text import untypable
from opsperf.errors import N_, NotFound, ValidationFailed
from opsperf.persistence.models import Job, User, db
from opsperf.services import jobs
from opsperf.services.pages import Page, like

Progress = Callable[[int, int], None]

COLUMNS = ("employee_no", "name", "email", "department", "position", "manager")
OPTIONAL = ("roles", "password", "base_bonus", "language")
ALIASES = {
    "工号": "employee_no",
    "员工编号": "employee_no",
    "姓名": "name",
    "邮箱": "email",
    "部门": "department",
    "岗位": "position",
    "上级": "manager",
    "直属上级": "manager",
    "角色": "roles",
    "密码": "password",
    "奖金基数": "base_bonus",
    "语言": "language",
}
ROW = "_row"  # the row's number in the file, for messages
MAX_ROWS = 20_000  # people in one file
MAX_BYTES = 8 * 2**20  # the file's size (the web upload has the same limit)
MAX_COLUMNS = 50
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Longest value of each column (the database's column sizes); any other column: 200.
COLUMN_LIMITS = {"employee_no": 64, "department": 64, "position": 64, "manager": 64, "roles": 500}
PASSWORD_METHOD = "scrypt"


@dataclass
class RowProblem:
    """What is wrong with one row: an English ``template`` with ``%(name)s`` placeholders filled
    from ``params`` (the web layer translates the template, like an error's)."""

    row: int
    template: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    passwords_kept: int = 0


def hash_password(password: str, method: str | None = None) -> str:
    return generate_password_hash(password, method=method or PASSWORD_METHOD)


_UNKNOWN: list[str] = []  # a hash to check against when there is no account to check


def verify(user: User | None, password: str) -> bool:
    """Whether the password is the person's. Unknown and inactive accounts take as long as
    known ones, so the time of the answer does not tell which log-ins exist."""
    if user is None or not user.password_hash:
        if not _UNKNOWN:
            _UNKNOWN.append(hash_password("no account has this password"))
        check_password_hash(_UNKNOWN[0], password)
        return False
    return check_password_hash(user.password_hash, password) and bool(user.active)


def without_password(department_ids: list[str] | None = None) -> Any:
    """Active accounts nobody can log in to yet: they wait for a set-password link."""
    query = select(User).where(User.active.is_(True), User.password_hash == "")
    if department_ids:
        query = query.where(User.department_id.in_(department_ids))
    return query


def count_without_password(department_ids: list[str] | None = None) -> int:
    query = select(func.count()).select_from(without_password(department_ids).subquery())
    return int(db.session.scalar(query) or 0)


def sign_out_everywhere(person_id: int) -> User:
    """End every session and remember-me cookie of a person."""
    found = person(person_id)
    found.end_sessions()
    db.session.commit()
    return found


def person(person_id: int) -> User:
    """The person with this id, or NotFound."""
    found = db.session.get(User, person_id)
    if found is None:
        raise NotFound("person %(id)s does not exist", id=person_id)
    return found


def attributes_for(defs: DefinitionSet, editor: User) -> dict[str, PersonAttribute]:
    """The declared attributes ``editor`` may read (their ``read`` names a role they hold)."""
    return {
        ident: attribute
        for ident, attribute in defs.attributes().items()
        if any(editor.has_role(role) for role in attribute.read)
    }


def save_attributes(
    defs: DefinitionSet, editor: User, person_id: int, posted: Mapping[str, str]
) -> tuple[User, dict[str, RowProblem]]:
    """Store the attributes ``editor`` may read, as posted for one person (the admin page's
    form; an empty field clears the value; the others stay as they are). With any problem
    nothing is stored and the problems come back, by attribute id, for the form to show
    beside each field."""
    found = person(person_id)
    shown = attributes_for(defs, editor)
    row = {f"{ATTRIBUTE}{ident}": (posted.get(ident) or "").strip() for ident in shown}
    problems: dict[str, RowProblem] = {}
    for ident, attribute in shown.items():
        value = row[f"{ATTRIBUTE}{ident}"]
        if untypable(value):
            problems[ident] = RowProblem(
                0, N_("control characters or broken symbols are not allowed")
            )
        elif len(value) > ATTRIBUTE_LIMIT:
            problems[ident] = RowProblem(
                0, N_("at most %(max)s characters"), {"max": ATTRIBUTE_LIMIT}
            )
        elif problem := _attribute_problem(0, ident, attribute, row):
            problems[ident] = problem
    if not problems:
        _fill_attributes(defs, found, row)
        db.session.commit()
    return found, problems


def find_login(login: str) -> User | None:
    """The user with this employee number or e-mail (case-insensitive)."""
    key = login.strip()
    if not key or len(key) > 200 or untypable(key):
        return None  # no account can have such a name
    lowered = key.lower()
    found = db.session.scalars(
        select(User)
        .where(or_(func.lower(User.employee_no) == lowered, User.email == lowered))
        .limit(2)
    ).all()
    return found[0] if len(found) == 1 else None  # a name two people share opens neither


def read_rows(path: Path | str, content: bytes | None = None) -> list[dict[str, str]]:
    """Rows of a CSV or XLSX file as dicts keyed by column (Chinese headers accepted).

    At most MAX_ROWS people and MAX_BYTES of file: a bigger one is refused before it is read
    through, so a huge (or mostly empty) sheet cannot hold a worker for minutes."""
    name = str(path).lower()
    if content is None and Path(path).stat().st_size > MAX_BYTES:
        raise ValidationFailed("the file is larger than %(max)s MB", max=MAX_BYTES // 2**20)
    data = content if content is not None else Path(path).read_bytes()
    if len(data) > MAX_BYTES:
        raise ValidationFailed("the file is larger than %(max)s MB", max=MAX_BYTES // 2**20)
    if name.endswith((".xlsx", ".xlsm")):
        raw_rows = _bounded(xlsx_rows(data))
    elif name.endswith(".csv"):
        raw_rows = _bounded(csv.reader(io.StringIO(decode_text(data))))
    else:
        raise ValidationFailed("people files are .csv or .xlsx")
    if not raw_rows:
        raise ValidationFailed("the file is empty")
    header = [ALIASES.get(h.strip(), h.strip().lower()) for h in raw_rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationFailed(
            "missing columns: %(columns)s (row 1 is the header)", columns=", ".join(missing)
        )
    return [
        {
            ROW: str(number),
            **{key: (cells[i] if i < len(cells) else "").strip() for i, key in enumerate(header)},
        }
        for number, cells in enumerate(raw_rows[1:], start=2)
        if cells
    ]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GBK/GB18030 as Excel saves CSV on Chinese Windows."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("the file is neither UTF-8 nor GBK text; save it as UTF-8 CSV")


def _bounded(rows: Iterable[list[str]]) -> list[list[str]]:
    """The header and up to MAX_ROWS people, at most MAX_COLUMNS cells each (blank rows stay,
    empty, so that row numbers are the file's)."""
    kept: list[list[str]] = []
    filled = 0
    for scanned, cells in enumerate(rows):
        kept.append(_blank_to_empty(list(cells[:MAX_COLUMNS])))
        filled += bool(kept[-1])
        if filled > MAX_ROWS + 1 or scanned > 5 * MAX_ROWS:
            raise ValidationFailed(
                "the file has more than %(max)s rows: split it and import the parts",
                max=MAX_ROWS,
            )
    return kept


def _blank_to_empty(cells: list[str]) -> list[str]:
    return cells if any(c.strip() for c in cells) else []


MAX_UNPACKED = 64 * 2**20  # an XLSX is a zip: what its parts may come to, unpacked


def open_workbook(data: bytes) -> Any:
    """A read-only workbook, after making sure the zip does not unpack into more than
    ``MAX_UNPACKED`` bytes (a small file of huge cells would otherwise take gigabytes)."""
    import zipfile

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as packed:
            unpacked = sum(part.file_size for part in packed.infolist())
    except zipfile.BadZipFile as exc:
        raise ValidationFailed("cannot read the spreadsheet: %(error)s", error=str(exc)) from exc
    if unpacked > MAX_UNPACKED:
        raise ValidationFailed(
            "the spreadsheet unpacks into more than %(max)s MB: save it again without "
            "what is not needed, or as CSV",
            max=MAX_UNPACKED // 2**20,
        )
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed("cannot read the spreadsheet: %(error)s", error=str(exc)) from exc


def xlsx_rows(data: bytes) -> Iterator[list[str]]:
    book = open_workbook(data)
    try:
        for row in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield ["" if v is None else str(v) for v in row]
    finally:
        book.close()


def import_people(
    defs: DefinitionSet,
    rows: Iterable[Mapping[str, str]],
    *,
    password_method: str | None = None,
    by_admin: bool = True,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update people from rows; on any problem nothing at all is written.

    Unless ``by_admin``, the import may neither grant or remove the admin role nor change the
    password of an existing account (HR could otherwise take over anyone's account).
    ``progress(done, total)`` is told how the slow part (hashing passwords) advances; it is
    called before anything is written, so it may commit.
    """
    rows = [_attribute_columns(defs, row) for row in rows]
    result = ImportResult()
    known = {u.employee_no: u for u in db.session.scalars(select(User))}
    numbers = [int(r.get(ROW) or n) for n, r in enumerate(rows, start=2)]
    in_file = {r.get("employee_no", ""): n for n, r in zip(numbers, rows, strict=True)}
    seen: dict[str, int] = {}
    for number, row in zip(numbers, rows, strict=True):
        result.problems += _row_problems(number, defs, row, known, in_file)
        result.problems += _attribute_problems(number, defs, row)
        no = row.get("employee_no", "")
        if no in seen:
            result.problems.append(
                RowProblem(
                    number,
                    "employee_no %(no)s repeats row %(first)s",
                    {"no": no, "first": seen[no]},
                )
            )
        seen[no] = number
        if not by_admin:
            result.problems += _admin_only(number, row, known.get(no))
    result.problems += _email_clashes(rows, numbers, known)
    if not result.problems:  # these read the file as a whole: only once every row is sound
        result.problems += _login_clashes(rows, numbers, known)
        result.problems += _manager_cycles(rows, numbers, known)
    if result.problems:
        result.problems.sort(key=lambda p: p.row)
        return result
    hashes = _hashes(rows, known, password_method, by_admin, progress)
    users = {}
    for row in rows:
        user = known.get(row["employee_no"])
        if user is None:
            user = User(employee_no=row["employee_no"])
            db.session.add(user)
            result.created += 1
        else:
            result.updated += 1
        existing = user.id is not None
        _fill(user, row, hashes.get(row["employee_no"]))
        _fill_attributes(defs, user, row)
        if existing and not by_admin and row.get("password"):
            result.passwords_kept += 1
        users[row["employee_no"]] = user
    db.session.flush()
    for row in rows:
        manager = row.get("manager", "")
        target = users.get(manager) or known.get(manager)
        users[row["employee_no"]].manager_id = target.id if target else None
    db.session.commit()
    return result


def _login_clashes(
    rows: list[Mapping[str, str]], numbers: list[int], known: Mapping[str, User]
) -> list[RowProblem]:
    """Employee numbers and e-mails are one namespace of log-in names, whatever the letter case:
    after the import each name must lead to one person. (E-mail against e-mail is
    ``_email_clashes``'s.)"""
    final: dict[str, tuple[str, str]] = {  # employee_no → (employee_no, e-mail), after the import
        no: (no, (u.email or "").lower()) for no, u in known.items()
    }
    row_of: dict[str, int] = {}
    for number, row in zip(numbers, rows, strict=True):
        final[row["employee_no"]] = (row["employee_no"], (row.get("email") or "").lower())
        row_of[row["employee_no"]] = number
    numbers_by_name: dict[str, str] = {}
    problems = []
    for no, _email in final.values():  # employee numbers, case-insensitively
        other = numbers_by_name.setdefault(no.lower(), no)
        if other != no:
            problems.append(_clash(row_of, no, other, no))
    for no, email in final.values():
        owner = numbers_by_name.get(email)
        if email and owner is not None and owner != no:
            problems.append(_clash(row_of, no, owner, email))
    return [p for p in problems if p is not None]


def _clash(row_of: Mapping[str, int], one: str, other: str, name: str) -> RowProblem | None:
    number = row_of.get(one) or row_of.get(other)
    if number is None:  # both were there before this file: not this import's doing
        return None
    return RowProblem(
        number,
        "log-in name %(name)s would lead to both %(one)s and %(other)s",
        {"name": name, "one": one, "other": other},
    )


def _manager_cycles(
    rows: list[Mapping[str, str]], numbers: list[int], known: Mapping[str, User]
) -> list[RowProblem]:
    """Nobody may end up managing themself through others (A → B → … → A)."""
    by_id = {u.id: no for no, u in known.items()}
    manager: dict[str, str | None] = {
        no: by_id.get(u.manager_id) for no, u in known.items() if u.manager_id
    }
    row_of = {}
    for number, row in zip(numbers, rows, strict=True):
        manager[row["employee_no"]] = row.get("manager") or None
        row_of[row["employee_no"]] = number
    problems, reported = [], set()
    for start in row_of:
        chain, at = [start], manager.get(start)
        while at is not None and at not in chain and len(chain) <= len(manager):
            chain.append(at)
            at = manager.get(at)
        if at is None or at in reported:
            continue
        cycle = chain[chain.index(at) :] if at in chain else []
        if not cycle or not any(no in row_of for no in cycle):
            continue
        reported.update(cycle)
        problems.append(
            RowProblem(
                min(row_of[no] for no in cycle if no in row_of),
                "managers go round in a circle: %(chain)s",
                {"chain": " → ".join([*cycle, cycle[0]])},
            )
        )
    return problems


def _email_clashes(
    rows: list[Mapping[str, str]], numbers: list[int], known: Mapping[str, User]
) -> list[RowProblem]:
    """E-mails are unique, whatever their letter case: within the file and against others."""
    owners = {u.email.lower(): no for no, u in known.items() if u.email}
    first: dict[str, int] = {}
    problems = []
    for number, row in zip(numbers, rows, strict=True):
        email = (row.get("email") or "").lower()
        if not email:
            continue
        if email in first:
            problems.append(
                RowProblem(
                    number,
                    "e-mail %(email)s repeats row %(first)s",
                    {"email": email, "first": first[email]},
                )
            )
        elif owners.get(email, row.get("employee_no")) != row.get("employee_no"):
            problems.append(
                RowProblem(
                    number,
                    "e-mail %(email)s already belongs to %(owner)s",
                    {"email": email, "owner": owners[email]},
                )
            )
        first.setdefault(email, number)
    return problems


ATTRIBUTE = "attribute:"  # prefix of a row key holding a declared person attribute
ATTRIBUTE_LIMIT = 200  # characters of one attribute's value, as for any column of the import


def _attribute_columns(defs: DefinitionSet, row: Mapping[str, str]) -> dict[str, str]:
    """The row with declared person attributes under ``attribute:<id>``, whether its header
    is the id or the attribute's label (月薪 for monthly_salary)."""
    names: dict[str, str] = {}
    for ident, attribute in defs.attributes().items():
        names[ident] = ident
        for text in (attribute.label.zh, attribute.label.en):
            if text:
                names.setdefault(text.strip().lower(), ident)
    out: dict[str, str] = {}
    for key, value in row.items():
        found = names.get(key.strip().lower()) if key not in COLUMNS + OPTIONAL else None
        out[f"{ATTRIBUTE}{found}" if found else key] = value
    return out


def _attribute_problems(
    number: int, defs: DefinitionSet, row: Mapping[str, str]
) -> list[RowProblem]:
    return [
        problem
        for ident, attribute in defs.attributes().items()
        if (problem := _attribute_problem(number, ident, attribute, row))
    ]


def _attribute_problem(
    number: int, ident: str, attribute: PersonAttribute, row: Mapping[str, str]
) -> RowProblem | None:
    """What is wrong with the cell of one attribute: a number that is not one."""
    raw = (row.get(f"{ATTRIBUTE}{ident}") or "").strip()
    if not raw or _attribute_value(attribute.type, raw) is not None:
        return None
    template = (
        N_("%(column)s must be a whole number, not '%(value)s'")
        if attribute.type == "integer"
        else N_("%(column)s must be a number, not '%(value)s'")
    )
    name = attribute.label.zh or attribute.label.en or ident
    column = ident if name == ident else f"{name} ({ident})"
    return RowProblem(number, template, {"column": column, "value": raw[:40]})


def _attribute_value(kind: str, raw: str) -> float | int | str | None:
    """The stored value of a cell, or None when it does not fit the attribute's type."""
    if kind == "text":
        return raw
    try:
        number = float(raw.replace(",", ""))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if kind == "integer":
        return int(number) if number.is_integer() else None
    return round(number, 2) if kind == "money" else number


def _fill_attributes(defs: DefinitionSet, user: User, row: Mapping[str, str]) -> None:
    """Declared attributes the file has a column for; a file without one keeps what is there."""
    values = dict(user.attributes or {})
    for ident, attribute in defs.attributes().items():
        key = f"{ATTRIBUTE}{ident}"
        if key in row:
            raw = (row.get(key) or "").strip()
            values[ident] = _attribute_value(attribute.type, raw) if raw else None
    user.attributes = values or None


def _row_problems(
    number: int,
    defs: DefinitionSet,
    row: Mapping[str, str],
    known: Mapping[str, User],
    in_file: Mapping[str, int],
) -> list[RowProblem]:
    problems = [
        RowProblem(number, "%(column)s is empty", {"column": c})
        for c in ("employee_no", "name", "department")
        if not row.get(c)
    ]
    for column, value in row.items():
        if not isinstance(value, str) or column == ROW:
            continue
        if untypable(value):
            problems.append(
                RowProblem(
                    number,
                    "%(column)s holds control characters or broken symbols",
                    {"column": column},
                )
            )
        elif len(value) > COLUMN_LIMITS.get(column, 200):
            problems.append(
                RowProblem(
                    number,
                    "%(column)s is longer than %(max)s characters",
                    {"column": column, "max": COLUMN_LIMITS.get(column, 200)},
                )
            )
    dept = defs.departments.get(row.get("department", ""))
    if row.get("department") and dept is None:
        problems.append(
            RowProblem(
                number,
                "unknown department '%(department)s': use a department id from org/",
                {"department": row["department"]},
            )
        )
    if (
        dept is not None
        and row.get("position")
        and row["position"] not in {p.id for p in dept.positions}
    ):
        problems.append(
            RowProblem(
                number,
                "department %(department)s has no position '%(position)s'",
                {"department": dept.id, "position": row["position"]},
            )
        )
    email = row.get("email", "")
    if email and not EMAIL.match(email):
        problems.append(
            RowProblem(number, "'%(email)s' is not an e-mail address", {"email": email})
        )
    manager = row.get("manager", "")
    if manager and manager not in in_file and manager not in known:
        problems.append(
            RowProblem(
                number,
                "manager '%(manager)s' is neither in the file nor known",
                {"manager": manager},
            )
        )
    if manager and manager == row.get("employee_no"):
        problems.append(RowProblem(number, "a person cannot be their own manager"))
    roles = _roles(row.get("roles", ""))
    custom = {r.id for d in defs.departments.values() for r in d.roles}
    unknown = [r for r in roles if r not in (*GLOBAL_ROLES, *ACCOUNT_ROLES) and r not in custom]
    if unknown:
        problems.append(
            RowProblem(number, "unknown roles: %(roles)s", {"roles": ", ".join(unknown)})
        )
    bonus = row.get("base_bonus", "")
    if bonus:
        try:
            float(bonus)
        except ValueError:
            problems.append(
                RowProblem(number, "base_bonus '%(value)s' is not a number", {"value": bonus})
            )
    return problems


def _roles(text: str) -> list[str]:
    return [r for r in re.split(r"[;,\s|，；]+", text.strip()) if r]


def _admin_only(number: int, row: Mapping[str, str], user: User | None) -> list[RowProblem]:
    had = user is not None and user.has_role("admin")
    wants = "admin" in _roles(row.get("roles", "")) if "roles" in row else had
    if had != wants:
        return [RowProblem(number, "only an administrator can grant or remove the admin role")]
    return []


def _hashes(
    rows: list[Mapping[str, str]],
    known: Mapping[str, User],
    method: str | None,
    by_admin: bool,
    progress: Progress | None,
) -> dict[str, str]:
    """The password hashes to store, by employee number: the slow part of an import.

    A password an account already has is left as it is (and its sessions go on)."""
    wanted = [
        row for row in rows if row.get("password") and (by_admin or row["employee_no"] not in known)
    ]
    hashes = {}
    for done, row in enumerate(wanted, start=1):
        user = known.get(row["employee_no"])
        if user is None or not verify(user, row["password"]):
            hashes[row["employee_no"]] = hash_password(row["password"], method)
        if progress and (done % 50 == 0 or done == len(wanted)):
            progress(done, len(wanted))
    return hashes


def _fill(user: User, row: Mapping[str, Any], password_hash: str | None) -> None:
    user.name = row["name"]
    user.email = (row.get("email") or "").lower() or None
    user.department_id = row["department"]
    user.position_id = row.get("position") or None
    if "roles" in row or not user.id:  # a file without the column keeps everyone's roles
        user.roles = _roles(row.get("roles", ""))
    if row.get("language") in ("zh", "en"):
        user.language = row["language"]
    if row.get("base_bonus"):
        user.base_bonus = float(row["base_bonus"])
    if password_hash:
        if user.id:
            user.end_sessions()  # a new password signs the person out everywhere
        user.password_hash = password_hash
    user.active = True


# --------------------------------------------------------------------------- import as a job

IMPORT_JOB = "import_people"
MAX_PROBLEMS_KEPT = 500


@jobs.handler(IMPORT_JOB)
def _import_job(defs: DefinitionSet, job: Job, progress: Progress) -> dict[str, Any]:
    rows = read_rows(str(job.params.get("filename", "")), job.payload or b"")
    progress(0, len(rows))
    result = import_people(defs, rows, by_admin=bool(job.params.get("by_admin")), progress=progress)
    if result.problems:
        db.session.rollback()
    return {
        "rows": len(rows),
        "created": result.created,
        "updated": result.updated,
        "passwords_kept": result.passwords_kept,
        "without_password": 0 if result.problems else count_without_password(),
        "problems_total": len(result.problems),
        "problems": [
            {"row": p.row, "template": p.template, "params": p.params}
            for p in result.problems[:MAX_PROBLEMS_KEPT]
        ],
    }


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class PeopleFilter:
    department: str = ""
    search: str = ""


def people_page(only: PeopleFilter, page: int = 1, per_page: int = 50) -> Page[Any]:
    """People with their manager's name, filtered and ordered in the database, one page."""
    manager = aliased(User)
    query = select(User, manager.name.label("manager_name")).outerjoin(
        manager, User.manager_id == manager.id
    )
    if only.department:
        query = query.where(User.department_id == only.department)
    if only.search:
        query = query.where(
            or_(
                like(User.name, only.search),
                like(User.employee_no, only.search),
                like(User.email, only.search),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    current: Page[Any] = Page.of(page, per_page, total)
    current.items = list(
        db.session.execute(
            query.order_by(User.department_id, User.employee_no)
            .limit(current.per_page)
            .offset(current.offset)
        )
    )
    return current
