"""Benchmark: load + check a large generated definition pack (run by hand, not a test).

    python bench/bench_load.py [--departments 500] [--forms 200] [--workflows 50]
                               [--policies 5] [--repeat 3] [--profile] [--keep DIR]

Generates into a temporary folder a pack of departments (a tree under one company root, each
with 2-4 positions), forms (a KPI table of 5-8 KPIs whose weights add up to 100, with mixed
scoring methods, plus sections of other fields with expressions and rules), quarterly workflows
(plan, monitor, assess with nested steps, feedback, closed; about ten transitions each) and a
few incentive policies. It asserts that the pack loads with zero errors, so what is measured
is the real path, then reports:

* wall time of ``opsperf.definitions.loader.load`` (best of N and median),
* the same for a baseline measured in the same run: reading the same files and
  ``yaml.safe_load_all`` on them (and, for reference, with libyaml's ``CSafeLoader``),
* peak memory: tracemalloc peak of one load, and the process's ru_maxrss,
* a split of one load into YAML reading, validation and checks,
* with ``--profile`` (or when the target is missed by far), the top opsperf functions by
  cumulative and by own time under cProfile.

Target: load + check under 1 s.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsperf.definitions.loader import load

TARGET_SECONDS = 1.0
SEED = 20240601

# --------------------------------------------------------------------------- generation

PHASE_STATES = """\
states:
  plan:
    label: {{zh: 目标设定, en: Planning}}
    edit: {{employee: [kpis.target, plan], manager: [kpis.target, plan]}}
    due: P{plan_days}D
    on_overdue: {{notify: [employee, manager]}}
  monitor:
    label: {{zh: 过程监控, en: Monitoring}}
    edit: {{employee: [kpis.actual, kpis.note], manager: [kpis.actual]}}
  assess:
    label: {{zh: 绩效评估, en: Assessment}}
    initial: self
    states:
      self:
        label: 自评
        edit: {{employee: [self_review]}}
        due: P7D
        on_overdue: {{notify: [employee], escalate_to: manager}}
      manager:
        label: 上级评价
        edit: {{manager: [manager_review]}}
        due: P7D
        on_overdue: {{notify: [manager], escalate_to: hr}}
      calibration:
        label: 校准
        edit: {{hr: [final_rating]}}
  feedback:
    label: {{zh: 结果反馈, en: Feedback}}
    edit: {{manager: [feedback]}}
    due: P{feedback_days}D
  closed: {{label: 已关闭, final: true}}
"""

TRANSITIONS = """\
transitions:
  - {{trigger: submit_plan, source: plan, dest: monitor, roles: [employee],
     approval: {{roles: [manager], mode: any}}, label: 提交目标}}
  - {{trigger: reopen_plan, source: monitor, dest: plan, roles: [manager, hr], comment: required}}
  - {{trigger: start_assessment, source: monitor, dest: assess, roles: [hr],
     actions: [notify_employee]}}
  - {{trigger: submit_self, source: assess.self, dest: assess.manager, roles: [employee],
     guard: "self_rating is not None", guard_message: 请先完成自评}}
  - {{trigger: return_self, source: assess.manager, dest: assess.self, roles: [manager],
     comment: required}}
  - {{trigger: submit_review, source: assess.manager, dest: assess.calibration, roles: [manager],
     guard: "rating is not None and (rating > 2 or comment is not None)",
     actions: [compute_scores]}}
  - {{trigger: sign_off, source: assess.calibration, dest: feedback,
     approval: {{roles: [dept_head, hr], mode: {mode}{quorum}}}, actions: [notify_employee]}}
  - {{trigger: recalibrate, source: feedback, dest: assess.calibration, roles: [hr],
     comment: required}}
  - {{trigger: acknowledge, source: feedback, dest: closed, roles: [employee],
     actions: [notify_manager]}}
  - {{trigger: appeal, source: feedback, dest: assess.calibration, roles: [employee],
     comment: required}}
  - {{trigger: cancel, source: [plan, monitor], dest: closed, roles: [hr, {custom_role}],
     comment: required}}
"""


def workflow_yaml(index: int, rng: random.Random) -> str:
    mode = rng.choice(["all", "any", "quorum"])
    header = (
        f"kind: Workflow\nid: wf_{index:03d}\nversion: {rng.randint(1, 5)}\n"
        f"name: {{zh: 季度考核流程 {index}, en: Quarterly review {index}}}\n"
        "help: 计划、监控、评估、反馈四个阶段\n"
    )
    states = PHASE_STATES.format(plan_days=rng.choice([7, 10, 14]), feedback_days=7)
    transitions = TRANSITIONS.format(
        mode=mode,
        quorum=", quorum: 2" if mode == "quorum" else "",
        custom_role=f"auditor_{index % 10}",
    )
    return header + states + transitions


def _kpi(rng: random.Random, index: int, weight: int) -> str:
    method = rng.choice(["ratio", "inverse_ratio", "bands", "linear", "expression", "default"])
    direction = "lower" if method == "inverse_ratio" or rng.random() < 0.15 else "higher"
    if method == "ratio" and direction == "lower":
        method = "inverse_ratio"
    target = rng.choice([10, 20, 50, 90, 100, 120, 500])
    unit = rng.choice(["万元", "%", "个", "天", "分"])
    parts = [
        f"id: k{index}",
        f"name: {{zh: 指标{index}, en: KPI {index}}}",
        f'unit: "{unit}"',
        f"direction: {direction}",
        f"weight: {weight}",
        f"target: {target}",
    ]
    if method == "ratio":
        parts.append(f"scoring: {{method: ratio, cap: {rng.choice([1.1, 1.2, 1.5])}}}")
    elif method == "inverse_ratio":
        parts.append("scoring: {method: inverse_ratio, cap: 1.2}")
    elif method == "bands":
        points = sorted(rng.sample(range(1, 200), 4), reverse=direction == "higher")
        bands = ", ".join(f"[{p}, {s}]" for p, s in zip(points, [120, 100, 80, 50], strict=True))
        parts.append(f"scoring: {{method: bands, bands: [{bands}]}}")
    elif method == "linear":
        low, high = target * 0.6, target * 1.3
        threshold, stretch = (low, high) if direction == "higher" else (high, low)
        parts.append(
            f"scoring: {{method: linear, threshold: {threshold:g}, stretch: {stretch:g}, "
            "threshold_score: 60, target_score: 100, stretch_score: 120}"
        )
    elif method == "expression":
        expr = rng.choice(
            [
                "clamp(actual / target * 100, 0, 120) if target else 0",
                "min(120, max(0, 100 + (actual - target) * weight / 10))",
                "round(actual / target * 100, 1) if target else None",
            ]
        )
        parts.append(f'scoring: {{method: expression, expr: "{expr}"}}')
    return "          - {" + ", ".join(parts) + "}\n"


def _weights(count: int, rng: random.Random) -> list[int]:
    cuts = sorted(rng.sample(range(5, 96, 5), count - 1))
    weights = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    assert sum(weights) == 100
    assert all(w > 0 for w in weights)
    return weights


def form_yaml(index: int, rng: random.Random) -> str:
    count = rng.randint(5, 8)
    kpis = "".join(_kpi(rng, i, w) for i, w in enumerate(_weights(count, rng)))
    extra_fields = "".join(
        f"      - {{id: extra_{j}, type: {t}, label: 附加{j}, "
        + ("choices: [低, 中, 高], " if t == "select" else "")
        + f'visible_if: "rating is None or rating >= {1 + j % 4}"}}\n'
        for j, t in enumerate(rng.sample(["text", "number", "select", "date", "checkbox"], 3))
    )
    return f"""\
kind: Form
id: form_{index:03d}
version: 1
title: {{zh: 季度绩效考核表 {index}, en: Quarterly appraisal {index}}}
period: quarter
help: 由员工与上级共同完成
sections:
  - id: kpi_section
    title: 关键绩效指标
    fields:
      - id: kpis
        type: kpi_table
        label: {{zh: 指标, en: KPIs}}
        kpis:
{kpis}  - id: plan
    title: 工作计划
    fields:
      - {{id: plan_summary, type: textarea, label: 计划摘要, required: true, max_length: 2000}}
      - {{id: key_actions, type: textarea, label: 关键举措}}
      - id: milestones
        type: table
        label: 里程碑
        max_rows: 20
        columns:
          - {{id: what, type: text, label: 事项}}
          - {{id: due, type: date, label: 截止}}
          - {{id: done, type: checkbox, label: 完成}}
  - id: self_review
    title: 自评
    fields:
      - {{id: highlights, type: textarea, label: 主要成绩, required: true, max_length: 4000}}
      - {{id: self_rating, type: rating, label: 自评等级, scale: 5, required: true}}
      - id: difficulties
        type: textarea
        label: 困难
        required_if: "self_rating is not None and self_rating <= 2"
  - id: manager_review
    title: 上级评价
    fields:
      - {{id: rating, type: rating, label: 评分, scale: 5}}
      - id: comment
        type: textarea
        label: 评语
        required_if: "rating is not None and rating <= 2"
      - {{id: final_rating, type: rating, label: 校准评分, scale: 5, readonly_if: "rating is None"}}
      - id: score_hint
        type: number
        label: 参考分
        compute: "round(kpis.score * 0.9, 1) if kpis.score is not None else None"
{extra_fields}  - id: feedback
    title: 反馈
    fields:
      - {{id: feedback_notes, type: textarea, label: 反馈记录}}
      - {{id: next_steps, type: select, label: 后续, choices: [维持, 辅导, 培训, 晋升提名]}}
rules:
  - check: "self_rating is None or self_rating >= 1"
    message: 自评等级必须填写
    field: self_rating
  - check: "len(milestones or []) <= 20"
    message: 里程碑最多 20 条
"""


def department_yaml(
    index: int, parent: int | None, rng: random.Random, plan: dict[str, Any]
) -> str:
    ident = "company" if parent is None else f"dept_{index:03d}"
    lines = [
        "kind: Department",
        f"id: {ident}",
        "version: 1",
        f"name: {{zh: 部门{index}, en: Department {index}}}",
    ]
    if parent is not None:
        lines.append(f"parent: {'company' if parent == 0 else f'dept_{parent:03d}'}")
    lines.append(f"bonus_coefficient: {rng.choice([0.8, 1.0, 1.1, 1.2])}")
    positions = plan["positions"]
    lines.append(f"head: {positions[0]['id']}")
    lines.append("positions:")
    for p in positions:
        lines.append(
            f"  - {{id: {p['id']}, name: 岗位 {p['id']}, form: {p['form']}, "
            f"workflow: {p['workflow']}, policy: {p['policy']}}}"
        )
    if parent is None:
        lines.append("roles:")
        lines += [f"  - {{id: auditor_{i}, name: 审计员 {i}}}" for i in range(10)]
    lines.append("goals:")
    lines.append(f"  - {{id: g{index}, name: 目标 {index}, unit: '%', target: 20, period: year}}")
    return "\n".join(lines) + "\n"


POLICY = """\
kind: IncentivePolicy
id: policy_{index}
version: 1
name: {{zh: 奖金方案 {index}, en: Bonus policy {index}}}
base_bonus: {base}
grades:
  - {{grade: S, min_score: 95, quota_max: 10%, bonus_multiplier: 2.0,
     actions: [promotion_nomination]}}
  - {{grade: A, min_score: 85, quota_max: 25%, bonus_multiplier: 1.5, actions: [salary_review]}}
  - {{grade: B, min_score: 70, bonus_multiplier: 1.0}}
  - {{grade: C, min_score: 60, bonus_multiplier: 0.5, actions: [coaching]}}
  - {{grade: D, min_score: 0, bonus_multiplier: 0, actions: [improvement_plan]}}
bonus: "base_bonus * bonus_multiplier * department.bonus_coefficient"
"""


def generate(root: Path, departments: int, forms: int, workflows: int, policies: int) -> int:
    """Write the pack under ``root``; return the number of files."""
    rng = random.Random(SEED)
    for folder in ("org", "forms", "workflows"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(forms):
        (root / "forms" / f"form_{i:03d}.yaml").write_text(form_yaml(i, rng), encoding="utf-8")
    for i in range(workflows):
        text = workflow_yaml(i, rng)
        (root / "workflows" / f"wf_{i:03d}.yaml").write_text(text, encoding="utf-8")
    policy_text = "---\n".join(
        POLICY.format(index=i, base=rng.choice([5000, 8000, 10000])) for i in range(policies)
    )
    (root / "workflows" / "policies.yaml").write_text(policy_text, encoding="utf-8")
    # every form and workflow is used by some position, so no "unused" warning
    form_cycle = [f"form_{i:03d}" for i in range(forms)]
    workflow_cycle = [f"wf_{i:03d}" for i in range(workflows)]
    used = 0
    for i in range(departments):
        parent = None if i == 0 else rng.randrange(0, i)
        positions = []
        for j in range(rng.randint(2, 4)):
            positions.append(
                {
                    "id": f"p{i}_{j}",
                    "form": form_cycle[used % forms],
                    "workflow": workflow_cycle[used % workflows],
                    "policy": f"policy_{used % policies}",
                }
            )
            used += 1
        text = department_yaml(i, parent, rng, {"positions": positions})
        (root / "org" / f"dept_{i:03d}.yaml").write_text(text, encoding="utf-8")
    return departments + forms + workflows + 1


# --------------------------------------------------------------------------- measuring


@dataclass
class Timing:
    """Wall and CPU seconds of each run of one contender."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"wall best {min(self.wall):6.3f} s  median {statistics.median(self.wall):6.3f} s"
            f"   cpu best {min(self.cpu):6.3f} s"
        )


def run_rounds(contenders: dict[str, Callable[[], Any]], repeat: int) -> dict[str, Timing]:
    """Run the contenders in turn, ``repeat`` rounds, so a busy machine hurts them alike."""
    timings = {name: Timing() for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            timings[name].cpu.append(time.process_time() - cpu)
            timings[name].wall.append(time.perf_counter() - wall)
    return timings


def baseline(files: list[Path], loader: Any) -> list[Any]:
    """Read every file and parse it with plain PyYAML; keep every document (as load does)."""
    documents: list[Any] = []
    for path in files:
        documents.extend(yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader))
    return documents


def cold_load(root: Path) -> Any:
    """load() as a fresh process does it: the per-process expression caches emptied first."""
    from opsperf.definitions import expressions

    expressions._parse.cache_clear()
    expressions._failing_constant_part.cache_clear()
    return load([root])


def traced_peak(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def phases(root: Path, files: list[Path]) -> dict[str, float]:
    """One load split into YAML reading, validation and checks, in CPU seconds."""
    from opsperf.definitions.checks import check
    from opsperf.definitions.loader import DefinitionSet, validate_document
    from opsperf.definitions.yamlio import read_documents

    problems: list[Any] = []
    clock = time.process_time
    start = clock()
    documents = []
    for path in files:
        docs, found = read_documents(str(path), path.read_text(encoding="utf-8"))
        documents += docs
        problems += found
    read = clock()
    definitions = DefinitionSet()
    for doc in documents:
        item = validate_document(doc, problems)
        if item is not None:
            definitions.add(item)
    validated = clock()
    problems += check(definitions)
    checked = clock()
    del root
    return {
        "read YAML (read_documents)": read - start,
        "validate (pydantic)": validated - read,
        "check (cross-definition)": checked - validated,
    }


def profile(root: Path, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    load([root])
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write("\n--- by cumulative time (all functions) ---\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write("\n--- opsperf functions by own time ---\n")
    stats.sort_stats("tottime").print_stats(r"opsperf|yamlio|loader|checks|expressions", top)
    out.write("\n--- all functions by own time ---\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--departments", type=int, default=500)
    parser.add_argument("--forms", type=int, default=200)
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--policies", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="always print a cProfile")
    parser.add_argument("--top", type=int, default=25, help="rows per profile table")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="opsperf-bench-") as tmp:
        root = args.keep or Path(tmp)
        count = generate(root, args.departments, args.forms, args.workflows, args.policies)
        files = sorted(p for p in root.rglob("*.yaml"))
        size = sum(p.stat().st_size for p in files)
        lines = sum(p.read_text(encoding="utf-8").count("\n") for p in files)
        print(f"pack: {root}")
        print(
            f"  {args.departments} departments, {args.forms} forms, {args.workflows} workflows, "
            f"{args.policies} policies: {len(files)} files ({count} expected), "
            f"{lines:,} lines, {size / 1024:,.0f} KiB"
        )
        rss_before = maxrss_mb()

        result = load([root])
        errors, warnings = result.errors, result.warnings
        print(f"  definitions loaded: {len(result.definitions)}")
        print(f"  errors: {len(errors)}   warnings: {len(warnings)}")
        for d in [*errors, *warnings][:10]:
            print("   ", d.format())
        assert not errors, f"the generated pack has {len(errors)} errors; fix the generator"
        expected = args.departments + args.forms + args.workflows + args.policies
        assert len(result.definitions) == expected, (len(result.definitions), expected)
        assert len(baseline(files, yaml.SafeLoader)) == expected
        rss_after_load = maxrss_mb()

        libyaml = getattr(yaml, "__with_libyaml__", False)
        contenders: dict[str, Callable[[], Any]] = {
            "opsperf load + check": lambda: cold_load(root),
            "baseline yaml.safe_load": lambda: baseline(files, yaml.SafeLoader),
        }
        if libyaml:
            contenders["reference CSafeLoader"] = lambda: baseline(files, yaml.CSafeLoader)
        timings = run_rounds(contenders, args.repeat)
        ours, base = timings["opsperf load + check"], timings["baseline yaml.safe_load"]

        peak_load = traced_peak(lambda: load([root]))
        peak_safe = traced_peak(lambda: baseline(files, yaml.SafeLoader))
        split = phases(root, files)

        print()
        print(f"time, {args.repeat} rounds (contenders take turns; cpu = process time)")
        for name, timing in timings.items():
            print(f"  {name:28s}{timing}")
        print(
            f"  ratio opsperf / safe_load   wall {min(ours.wall) / min(base.wall):5.2f}x"
            f"   cpu {min(ours.cpu) / min(base.cpu):5.2f}x   (best vs best)"
        )
        if libyaml:
            c = timings["reference CSafeLoader"]
            print(
                f"  ratio opsperf / CSafeLoader wall {min(ours.wall) / min(c.wall):5.2f}x"
                f"   cpu {min(ours.cpu) / min(c.cpu):5.2f}x"
            )
        print()
        print("one load, split by phase")
        for name, seconds in split.items():
            print(f"  {name:28s}{seconds:7.3f} s cpu")
        print()
        print("memory")
        print(f"  tracemalloc peak, opsperf load      {peak_load / 2**20:8.1f} MiB")
        print(f"  tracemalloc peak, yaml.safe_load    {peak_safe / 2**20:8.1f} MiB")
        print(f"  ru_maxrss before loading            {rss_before:8.1f} MiB")
        print(f"  ru_maxrss after the first load      {rss_after_load:8.1f} MiB")
        print(f"  ru_maxrss at the end                {maxrss_mb():8.1f} MiB")
        print()
        met = min(ours.wall) < TARGET_SECONDS
        verdict = "MET" if met else "NOT MET"
        best = f"best of {args.repeat}"
        print(f"target: load + check under {TARGET_SECONDS:.0f} s ({best}): {verdict}")
        if args.profile or min(ours.wall) > 1.5 * TARGET_SECONDS:
            print()
            print(profile(root, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
