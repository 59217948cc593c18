"""A generated company of any size for any definition pack: for benchmarks and tests.

Each department with positions gets a head (the department's ``head`` position), teams led by
team leads who report to the head, and members who report to their lead. The top department
holds a chief executive, HR and an administrator. Each custom role a department defines is
given to up to two of its people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Department

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯鹏飞晨欣怡雪梅琳婷倩慧佳俊峰亮志鑫波宁"  # noqa: E501
CHIEF = "e00000"


@dataclass
class Company:
    """People rows for ``people.import_people`` and who holds which part."""

    rows: list[dict[str, str]] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)  # department → head's employee_no
    leads: list[str] = field(default_factory=list)  # team leads' employee numbers
    hr: list[str] = field(default_factory=list)


@dataclass
class _Builder:
    rng: random.Random
    password: str | None
    out: Company = field(default_factory=Company)
    number: int = 1

    def add(self, no: str, dept: str, position: str, manager: str, roles: str = "") -> None:
        name = self.rng.choice(SURNAMES) + "".join(
            self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2)))
        )
        row = {
            "employee_no": no,
            "name": name,
            "email": f"{no}@example.com",
            "department": dept,
            "position": position,
            "manager": manager,
            "roles": roles,
            "base_bonus": str(self.rng.choice((8000, 10000, 12000, 15000))),
        }
        if self.password:
            row["password"] = self.password
        self.out.rows.append(row)

    def next_number(self) -> str:
        no = f"e{self.number:05d}"
        self.number += 1
        return no

    def department(self, dept: Department, count: int, team_size: int) -> None:
        others = [p.id for p in dept.positions if p.id != dept.head] or [dept.positions[0].id]
        head = self.next_number()
        self.add(head, dept.id, dept.head or dept.positions[0].id, CHIEF)
        self.out.heads[dept.id] = head
        lead = head
        holders = {r.id: 0 for r in dept.roles}
        for i in range(count - 1):
            no = self.next_number()
            if i % team_size == 0:
                self.add(no, dept.id, others[0], head)
                lead = no
                self.out.leads.append(no)
                continue
            roles = [r for r in holders if holders[r] < 2 and self.rng.random() < 0.1]
            for role in roles:
                holders[role] += 1
            self.add(no, dept.id, others[i % len(others)], lead, ",".join(roles))


def company(
    defs: DefinitionSet,
    size: int,
    *,
    team_size: int = 12,
    hr_people: int = 3,
    seed: int = 2026,
    password: str | None = None,
) -> Company:
    """About ``size`` people spread evenly over the departments that have positions."""
    build = _Builder(random.Random(seed), password)
    top = next((d.id for d in defs.departments.values() if d.parent is None), "")
    build.add(CHIEF, top, "", "")
    build.add("admin", top, "", "", "admin")
    for i in range(hr_people):
        build.out.hr.append(f"hr{i + 1:03d}")
        build.add(build.out.hr[-1], top, "", CHIEF, "hr")
    staffed = [d for d in defs.departments.values() if d.positions and d.id != top]
    per_department = max(2, (size - len(build.out.rows)) // max(1, len(staffed)))
    for dept in staffed:
        build.department(dept, per_department, team_size)
    return build.out
