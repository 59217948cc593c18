"""Pydantic models of the four definition kinds: Department, Form, Workflow, IncentivePolicy.

The models check shape only (types, required keys, unknown keys, value ranges). Anything that
needs more than one definition at once, such as a position naming a form, lives in
:mod:`opsperf.definitions.checks`.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

import regex
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from opsperf.definitions.expressions import Expression

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Version = Annotated[int, Field(ge=1, description="Bump when the definition changes meaning.")]
Period = Literal["month", "quarter", "half_year", "year"]
Direction = Literal["higher", "lower"]
LANGUAGES = ("zh", "en")

RELATIVE_ROLES = ("employee", "manager", "dept_head")
GLOBAL_ROLES = ("hr", "admin")
# Roles a person may hold that open pages, not steps of appraisals: a data steward imports
# KPI actuals (services.checkins).
ACCOUNT_ROLES = ("data_steward",)
PHASES = ("plan", "monitor", "assess", "feedback")
WorkflowAction = Literal["compute_scores", "notify_employee", "notify_manager"]
IncentiveAction = Literal[
    "promotion_nomination", "salary_review", "training", "coaching", "improvement_plan"
]
WORKFLOW_ACTIONS: tuple[str, ...] = get_args(WorkflowAction)
# What a workflow's notification rules may react to (services.notifications): entering a
# state, a step taken, a sign-off asked for or declined, a comment on a thread, a mention.
NotificationEvent = Literal[
    "entered", "step", "approval_requested", "declined", "comment", "mentioned"
]
NOTIFICATION_EVENTS: tuple[str, ...] = get_args(NotificationEvent)
# The messages a notification may say (their texts are in the catalogs, web.notifications).
MessageKey = Literal[
    "entered",
    "step",
    "approval_requested",
    "declined",
    "comment",
    "mentioned",
    "reminder",
    "overdue",
    "escalated",
    "fired",
]
MESSAGE_KEYS: tuple[str, ...] = get_args(MessageKey)
# Who a rule may notify besides the workflow's roles: whoever may act on the step now, the
# person who asked for the declined sign-off, the people a comment mentions, and the people
# who wrote in the thread (and the thread's appraisal's employee).
NOTIFY_RECIPIENTS = ("actors", "requester", "mentioned", "participants")
INCENTIVE_ACTIONS: tuple[str, ...] = get_args(IncentiveAction)
# The built-in follow-ups' owner role and days to complete them (a policy's own actions say
# theirs; unsaid, the manager within 30 days).
ACTION_DEFAULTS: dict[str, tuple[str, int]] = {
    "promotion_nomination": ("hr", 30),
    "salary_review": ("hr", 30),
    "training": ("hr", 60),
    "coaching": ("manager", 30),
    "improvement_plan": ("manager", 90),
}
DEFAULT_ACTION_OWNER, DEFAULT_ACTION_DAYS = "manager", 30

_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


class Model(BaseModel):
    """Base of every definition model: unknown keys are errors, instances are immutable.

    Numbers must be finite: YAML reads ``.nan`` and ``.inf`` as floats, which no score,
    weight or threshold can be.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Text(Model):
    """A label: a plain string, or one text per language (``{zh: 销售额, en: Revenue}``)."""

    zh: str | None = None
    en: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("a label is needed: a text or {zh: ..., en: ...}")
        if isinstance(value, bool):
            raise ValueError(
                "this label reads as true/false (yes, no, on, off are booleans in YAML); "
                "put it in quotes, e.g. 'yes'"
            )
        if isinstance(value, str | int | float):
            return {"zh": str(value), "en": str(value)}
        if not isinstance(value, dict):
            raise ValueError("a label is a text or {zh: ..., en: ...}, not a list")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Text:
        if not (self.zh or self.en):
            raise ValueError("a label needs at least one of zh or en")
        return self

    def get(self, language: str = "zh") -> str:
        """The text in ``language``, falling back to the other one."""
        preferred = self.en if language.startswith("en") else self.zh
        return preferred or self.zh or self.en or ""

    def __str__(self) -> str:
        return self.get("zh")

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [{"type": "string"}, handler(schema)],
            "description": "A label: a string, or {zh: ..., en: ...}",
        }


def _percent(value: Any) -> Any:
    """``20%``, ``20 %`` or ``20`` → 20.0; anything else is not a percentage."""
    if not isinstance(value, str):
        return value
    try:
        return float(value.strip().removesuffix("%"))
    except ValueError:
        raise ValueError(f"'{value}' is not a percentage; write a number like 20% or 20") from None


Percent = Annotated[
    float,
    BeforeValidator(_percent),
    Field(ge=0, le=100, description="A share of the population: 10% or 10"),
]


def parse_duration(text: str) -> dt.timedelta:
    """ISO 8601 duration in weeks, days, hours, minutes (``P14D``, ``P2W``, ``PT36H``)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(
            f"'{text}' is not an ISO 8601 duration in weeks, days or hours, e.g. P14D, P2W, PT36H"
        )
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        parse_duration(value)
    return value


Duration = Annotated[str, BeforeValidator(_duration)]


# --------------------------------------------------------------------------- Department


GOAL_REF = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"  # department_id.goal_id
Rollup = Literal["sum", "average", "weighted_average", "latest", "min", "max"]
ROLLUPS: tuple[str, ...] = get_args(Rollup)


class Goal(Model):
    """A company or department goal (目标设定): KPIs and other goals align to it, and its
    ``rollup`` works its actual out of theirs (the goal cascade, 目标分解)."""

    id: Id
    name: Text
    unit: str | None = None
    direction: Direction = "higher"
    target: float | None = Field(
        None, description="Default: worked out by the rollup from the targets of what aligns to it"
    )
    period: Period | None = None
    entered_by: list[Id] = Field(
        [],
        description="Roles that record the goal's actual once per cycle for the department "
        "(dept_head, hr or a custom role); forms read it as department.<goal>.actual, "
        ".target and .attainment",
    )
    aligns_to: str | None = Field(
        None,
        pattern=GOAL_REF,
        description="The goal this one carries, as department_id.goal_id",
    )
    rollup: Rollup | None = Field(
        None,
        description="How its actual is worked out from the goals and KPIs aligned to it: sum, "
        "average, weighted_average, latest, min or max; unset: it has no actual",
    )
    weight: float = Field(
        1,
        gt=0,
        le=10_000,
        description="Its weight in the weighted_average of the goal it aligns to (a KPI "
        "weighs its weight on its form)",
    )
    help: Text | None = None


class Position(Model):
    """A position (岗位) and the form, workflow and incentive policy that apply to it."""

    id: Id
    name: Text
    form: Id
    workflow: Id
    policy: Id | None = Field(
        None, description="Incentive policy; default: the one whose workflow matches"
    )
    help: Text | None = None


ROLE_SCOPES = ("company", "department", "subtree")


class RoleDef(Model):
    """A custom role a department declares, assignable to people (e.g. quality_officer).

    Its holders act wherever the role counts: in the whole company unless ``scope`` narrows it
    to the declaring department, or to that department and every department below it.
    """

    id: Id
    name: Text
    scope: Literal["company", "department", "subtree"] = Field(
        "company",
        description="Where holders act: company (everywhere, the default), department (only "
        "appraisals of the declaring department) or subtree (the declaring department and "
        "every department below it)",
    )
    help: Text | None = None


class Department(Model):
    """An organisational unit: the company itself when it has no parent."""

    kind: Literal["Department"]
    id: Id
    version: Version = 1
    name: Text
    parent: Id | None = None
    head: Id | None = Field(None, description="The position whose holder heads the department")
    bonus_coefficient: float = Field(1.0, ge=0, le=10)
    positions: list[Position] = []
    roles: list[RoleDef] = []
    goals: list[Goal] = []
    help: Text | None = None


# --------------------------------------------------------------------------- Form fields


class FieldBase(Model):
    """What every field has: identity, texts and the conditional rules."""

    id: Id
    label: Text
    help: Text | None = None
    placeholder: Text | None = None
    required: bool = False
    required_if: Expression | None = None
    visible_if: Expression | None = Field(
        None, description="Shown while this holds; may also read `state` and `viewer_roles`"
    )
    readonly_if: Expression | None = None
    compute: Expression | None = Field(
        None, description="Computed on the server; a computed field is read-only"
    )
    visible_to: list[Id] | None = Field(
        None, description="Only these roles see it (pages, API, history); default: everyone"
    )
    hidden_from: list[Id] = Field([], description="These roles never see it")


class TextField(FieldBase):
    type: Literal["text", "textarea"]
    default: str | None = None
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1, le=100_000)
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
                regex.compile(value)  # the engine matches with `regex`, which has a timeout
            except (re.error, regex.error, OverflowError, RecursionError) as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _lengths(self) -> TextField:
        if self.min_length is not None and self.max_length is not None:
            if self.min_length > self.max_length:
                raise ValueError("min_length is larger than max_length")
        return self


class NumberField(FieldBase):
    type: Literal["number", "integer", "percent", "money"]
    default: float | None = None
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    decimals: int | None = Field(None, ge=0, le=6)
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _range(self) -> NumberField:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is larger than max")
        return self


class DateField(FieldBase):
    type: Literal["date"]
    default: dt.date | None = None
    min: dt.date | None = None
    max: dt.date | None = None


class Choice(Model):
    value: str
    label: Text

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, value: Any) -> Any:
        if isinstance(value, bool) or (
            isinstance(value, dict) and isinstance(value.get("value"), bool)
        ):
            raise ValueError(
                "a choice reads as true/false (yes, no, on, off are booleans in YAML); "
                "put it in quotes, e.g. 'yes'"
            )
        if isinstance(value, str | int | float):
            return {"value": str(value), "label": str(value)}
        if isinstance(value, dict) and "value" in value:
            return {
                **value,
                "value": str(value["value"]),
                "label": value.get("label", value["value"]),
            }
        return value


class ChoiceField(FieldBase):
    type: Literal["select", "multiselect", "radio"]
    choices: list[Choice] = Field(min_length=1)
    default: str | list[str] | None = None
    min_items: int | None = Field(None, ge=0)
    max_items: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _unique_values(self) -> ChoiceField:
        values = [c.value for c in self.choices]
        if len(set(values)) != len(values):
            raise ValueError("choices repeat a value; each choice needs its own value")
        return self


class CheckboxField(FieldBase):
    type: Literal["checkbox"]
    default: bool = False


class RatingField(FieldBase):
    type: Literal["rating"]
    scale: int = Field(5, ge=2, le=10)
    labels: list[Text] | None = Field(None, description="One label per step, lowest first")
    default: int | None = None

    @model_validator(mode="after")
    def _labels_match_scale(self) -> RatingField:
        if self.labels is not None and len(self.labels) != self.scale:
            raise ValueError(
                f"labels has {len(self.labels)} entries but scale is {self.scale}: "
                "give one label per step"
            )
        return self


ColumnField = Annotated[
    TextField | NumberField | DateField | ChoiceField | CheckboxField | RatingField,
    Field(discriminator="type"),
]


class TableField(FieldBase):
    """Repeating rows with typed columns (e.g. improvement actions)."""

    type: Literal["table"]
    columns: list[ColumnField] = Field(min_length=1)
    min_rows: int = Field(0, ge=0)
    max_rows: int = Field(50, ge=1, le=500)
    group_by: Id | None = Field(
        None, description="A column whose equal values form groups (objectives of key results)"
    )
    min_per_group: int = Field(0, ge=0, description="Rows each group needs at least")
    max_per_group: int | None = Field(None, ge=1, description="Rows a group may have at most")


# --------------------------------------------------------------------------- KPIs


class RatioScoring(Model):
    """actual ÷ target × 100, capped (higher is better)."""

    method: Literal["ratio"]
    cap: float = Field(1.2, ge=1, le=10)


class InverseRatioScoring(Model):
    """target ÷ actual × 100, capped (lower is better)."""

    method: Literal["inverse_ratio"]
    cap: float = Field(1.2, ge=1, le=10)


class Band(Model):
    """A threshold and the score reached at or beyond it."""

    at: float
    score: float = Field(ge=0, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError("a band is a pair [threshold, score]")
            return {"at": value[0], "score": value[1]}
        return value


class BandsScoring(Model):
    """Score by bands: the first band whose threshold the actual reaches."""

    method: Literal["bands"]
    bands: list[Band] = Field(min_length=1)


class LinearScoring(Model):
    """Linear between threshold → target → stretch, e.g. 60 → 100 → 120 points."""

    method: Literal["linear"]
    threshold: float
    stretch: float | None = None
    threshold_score: float = Field(60, ge=0)
    target_score: float = Field(100, ge=0)
    stretch_score: float = Field(120, ge=0)
    below_threshold_score: float = Field(0, ge=0)


class ExpressionScoring(Model):
    """A custom formula over ``actual``, ``target`` and ``weight``."""

    method: Literal["expression"]
    expr: Expression


ScoringMethod = (
    RatioScoring | InverseRatioScoring | BandsScoring | LinearScoring | ExpressionScoring
)
Scoring = Annotated[ScoringMethod, Field(discriminator="method")]


class Checkins(Model):
    """Actuals recorded as a series, one value per period, and how they come to the actual
    the KPI is scored on (检查点/过程数据)."""

    period: Literal["week", "month", "quarter"] = Field(
        description="One value per week (ISO), month or quarter of the cycle"
    )
    aggregate: Literal["sum", "average", "last", "max", "min"] = Field(
        description="sum (e.g. revenue), average (a rate), last (a balance, a headcount), "
        "max or min"
    )


class Kpi(Model):
    """A key performance indicator (关键绩效指标)."""

    id: Id
    name: Text
    unit: str | None = None
    direction: Direction = "higher"
    weight: float = Field(gt=0, le=100)
    target: float | None = None
    period: Period | None = None
    scoring: Scoring | None = Field(
        None, description="Default: ratio when higher is better, inverse_ratio when lower"
    )
    aligns_to: str | None = Field(
        None,
        pattern=GOAL_REF,
        description="The goal this KPI serves, as department_id.goal_id",
    )
    actual_from: Expression | None = Field(
        None,
        description="The actual is worked out, not typed: an expression over the form's "
        "values, e.g. a computed field (`oee`); shown read-only in the table",
    )
    checkins: Checkins | Literal[False] | None = Field(
        None,
        description="The actual is recorded period by period (check-ins) and comes to one "
        "figure by `aggregate`; default: the table's `checkins`; `false`: typed once",
    )
    help: Text | None = None

    @property
    def series_rule(self) -> Checkins | None:
        """How the actual is checked in, when it is."""
        return self.checkins or None

    @property
    def typed(self) -> bool:
        """Whether the actual is typed into the form (not worked out, not checked in)."""
        return self.actual_from is None and not self.checkins

    @property
    def effective_scoring(self) -> ScoringMethod:
        """The scoring rule in force: the one written, or the default for the direction."""
        if self.scoring is not None:
            return self.scoring
        if self.direction == "lower":
            return InverseRatioScoring(method="inverse_ratio", cap=1.2)
        return RatioScoring(method="ratio", cap=1.2)


class KpiTableField(FieldBase):
    """The KPI table: targets agreed in planning, actuals recorded while monitoring."""

    type: Literal["kpi_table"]
    kpis: list[Kpi] = Field(min_length=1)
    checkins: Checkins | None = Field(
        None,
        description="Check-ins for every KPI of the table whose actual is neither worked out "
        "(`actual_from`) nor given its own `checkins` (`checkins: false` keeps one typed)",
    )

    @model_validator(mode="before")
    @classmethod
    def _checkins_for_each(cls, value: Any) -> Any:
        """The table's ``checkins`` given to each KPI that is not worked out and says nothing
        of its own (``checkins: false`` keeps a KPI typed)."""
        if not isinstance(value, dict) or value.get("checkins") is None:
            return value
        kpis = value.get("kpis")
        if not isinstance(kpis, list):
            return value
        shared = value["checkins"]
        try:
            Checkins.model_validate(shared)
        except ValidationError:
            return value  # reported once, at the table's own key
        given = [
            {**k, "checkins": shared}
            if isinstance(k, dict) and k.get("checkins") is None and k.get("actual_from") is None
            else k
            for k in kpis
        ]
        return {**value, "kpis": given}


AnyField = Annotated[
    TextField
    | NumberField
    | DateField
    | ChoiceField
    | CheckboxField
    | RatingField
    | TableField
    | KpiTableField,
    Field(discriminator="type"),
]
KPI_COLUMNS = ("target", "actual", "note")
ROWS_RIGHT = "rows"  # ``table.rows`` in an edit right: may add rows to the table
OWN_RIGHT = "own"  # ``table.own``: may add rows, and edit or remove the rows one added
ROW_OWNER = "_by"  # the key of a table row that holds who added it (under ``table.own``)


# --------------------------------------------------------------------------- Form


class Section(Model):
    id: Id
    title: Text
    help: Text | None = None
    visible_if: Expression | None = None
    visible_to: list[Id] | None = Field(None, description="Only these roles see the section")
    hidden_from: list[Id] = Field([], description="These roles never see the section")
    fields: list[AnyField] = Field(min_length=1)


class Rule(Model):
    """A form-level rule: ``check`` must hold, otherwise ``message`` is shown."""

    check: Expression
    message: Text
    field: Id | None = Field(None, description="The field the message is shown beside")


GRADE_PATTERN = r"^[A-Za-z0-9+\-]{1,8}$"
GradeId = Annotated[str, StringConstraints(pattern=GRADE_PATTERN)]
ADJUSTMENT_KINDS = ("cap", "floor", "deduct", "add", "grade")


class Adjustment(Model):
    """A rule on the result, applied after ``score`` in the order written, when ``when`` holds:
    a ``cap`` or ``floor`` on the total, points to ``deduct`` or ``add``, or a ``grade`` that
    overrides the one the total earns (一票否决). Shown in the explanation with its label."""

    label: Text
    when: Expression | None = Field(
        None, description="Condition over the form's values and `score` (the total so far)"
    )
    cap: float | None = Field(None, description="The total is at most this")
    floor: float | None = Field(None, description="The total is at least this")
    deduct: Expression | None = Field(None, description="Points taken off the total")
    add: Expression | None = Field(None, description="Points added to the total")
    grade: GradeId | None = Field(None, description="The grade given whatever the total")

    @model_validator(mode="after")
    def _one_effect(self) -> Adjustment:
        given = [k for k in ADJUSTMENT_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an adjustment does one thing: give exactly one of cap, floor, deduct, add, grade"
                + (f" (this one gives {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ADJUSTMENT_KINDS if getattr(self, k) is not None)


# A form's expressions read their department's recorded goals as department.<goal>.actual,
# .target and .attainment (the service layer gives them beside the values).
DEPARTMENT = "department"


def _expressions(value: Any) -> list[Expression]:
    """Every expression in a definition, however deep."""
    if isinstance(value, Expression):
        return [value]
    if isinstance(value, BaseModel):
        return [e for name in type(value).model_fields for e in _expressions(getattr(value, name))]
    if isinstance(value, list | tuple):
        return [e for item in value for e in _expressions(item)]
    return []


class Form(Model):
    kind: Literal["Form"]
    id: Id
    version: Version = 1
    title: Text
    help: Text | None = None
    period: Period | None = None
    sections: list[Section] = Field(min_length=1)
    rules: list[Rule] = []
    score: Expression | None = Field(
        None,
        description="Total score; default: the weighted score of the KPI table(s)",
    )
    adjustments: list[Adjustment] = Field(
        [], description="Rules on the result: caps, floors, deductions, grade overrides"
    )
    review_previous: list[Id] = Field(
        [],
        description="Fields of the person's previous appraisal shown beside the new plan, "
        "with its targets, actuals and score (PDCA), e.g. [improvement_plan]",
    )

    def fields(self) -> list[AnyField]:
        """Every field of every section, in order."""
        return [f for section in self.sections for f in section.fields]

    @cached_property
    def goals_read(self) -> frozenset[str]:
        """The department goals the form's expressions read as ``department.<goal>``
        (anywhere: fields, KPIs, rules, the score, its adjustments); worked out once per
        form, which never changes."""
        return frozenset(
            chain[1]
            for expr in _expressions(self)
            for chain in expr.names()
            if len(chain) > 1 and chain[0] == DEPARTMENT
        )


# --------------------------------------------------------------------------- Workflow


class OverdueAction(Model):
    notify: list[Id] = Field([], description="Roles to remind")
    escalate_to: Id | None = Field(None, description="A role that takes the task over")
    fire: Id | None = Field(None, description="A transition trigger fired automatically")


class NineBoxAxis(Model):
    """One axis of the 9-box: a number of the appraisal cut into low, middle and high."""

    value: Id = Field(description="score, or a number or rating field the forms share")
    label: Text | None = None
    bands: list[float] = Field(
        min_length=2,
        max_length=2,
        description="Two thresholds, ascending: below the first is low, from the second high",
    )

    @model_validator(mode="after")
    def _ascending(self) -> NineBoxAxis:
        if self.bands[0] >= self.bands[1]:
            raise ValueError("bands are two thresholds, the smaller first")
        return self


class NineBox(Model):
    """Performance × potential, three bands each, counted on the calibration board."""

    performance: NineBoxAxis
    potential: NineBoxAxis


class Calibration(Model):
    """A state in which grades are calibrated across people before they take effect."""

    show: list[Id] = Field(
        [], description="Fields the forms share, shown as columns of the board (manager_rating)"
    )
    nine_box: NineBox | None = None

    override: list[Id] = Field(
        [],
        description="Roles that may change a grade here (with a reason; the bonus follows, the "
        "scores never change)",
    )
    sign_off: Id | None = Field(
        None,
        description="The transition that ends calibration (signed off for a whole department "
        "at once on the board); default: the one leaving this state with an approval",
    )


class State(Model):
    label: Text | None = None
    help: Text | None = None
    initial: Id | None = Field(None, description="The first child state (nested states only)")
    states: dict[Id, State] | None = None
    edit: dict[Id, list[str]] = Field(
        {}, description="role → sections, fields or kpi_field.column each may edit here"
    )
    due: Duration | None = Field(None, description="ISO 8601 duration, e.g. P14D")
    due_from: Literal["entered", "cycle_start"] = "entered"
    remind: list[Duration] = Field(
        [],
        max_length=5,
        description="Reminders before the deadline to whoever may act, e.g. [P3D, P1D]",
    )
    on_overdue: OverdueAction | None = None
    final: bool = False
    calibration: Calibration | None = Field(
        None,
        description="Grades are calibrated here: a board per department, grade overrides, "
        "quotas checked at sign-off; results stay provisional until it is signed off",
    )

    @model_validator(mode="after")
    def _consistent(self) -> State:
        if self.final and self.states:
            raise ValueError("a final state cannot have child states")
        if self.initial and not self.states:
            raise ValueError("'initial' is only for a state with child 'states'")
        if self.calibration and (self.states or self.final):
            raise ValueError("calibration is for a state without child states that is not final")
        return self


class Approval(Model):
    """Who must sign a transition off, and how many of them."""

    roles: list[Id] = Field(min_length=1)
    mode: Literal["any", "all", "quorum"] = "any"
    quorum: int | None = Field(None, ge=1)
    declined_to: str | None = Field(
        None,
        description="Where a declined sign-off goes (a state); unset: it stays, votes cleared",
    )

    @model_validator(mode="after")
    def _quorum(self) -> Approval:
        if self.mode == "quorum" and self.quorum is None:
            raise ValueError("mode quorum needs 'quorum: N' (how many approvals)")
        if self.mode != "quorum" and self.quorum is not None:
            raise ValueError("'quorum' is only used with mode: quorum")
        return self


class TransitionDef(Model):
    trigger: Id
    label: Text | None = None
    help: Text | None = None
    source: str | list[str] = Field(description="State path(s) like assess.self, or '*'")
    dest: str
    roles: list[Id] = Field([], description="Who may fire (or request, when approval is set)")
    guard: Expression | None = None
    guard_message: Text | None = None
    approval: Approval | None = None
    allow_self_approval: bool = False
    comment: Literal["required", "optional", "none"] = "optional"
    require_complete: bool = Field(
        True,
        description="Check the firer's required values and the form rules first; "
        "false for steps that send work back",
    )
    actions: list[WorkflowAction] = []
    opens_thread: list[Id] = Field(
        [],
        description="The step's comment opens a comment thread addressed to these roles (an "
        "appeal to hr), visible to everyone who may open the appraisal",
    )

    @property
    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)

    @model_validator(mode="after")
    def _someone_fires(self) -> TransitionDef:
        if not self.roles and self.approval is None:
            raise ValueError("say who fires this transition: 'roles', 'approval', or both")
        return self


class NotificationRule(Model):
    """Who hears of what happens on an appraisal (services.notifications)."""

    event: NotificationEvent
    states: list[str] = Field(
        [], description="Only in (or, for entered, into) these states; a parent covers its children"
    )
    transitions: list[Id] = Field(
        [], description="Only for these triggers (events step, approval_requested, declined)"
    )
    notify: list[Id] = Field(
        min_length=1,
        description="Roles of the appraisal (employee, manager, dept_head, hr…) or actors, "
        "requester, mentioned, participants",
    )
    message: MessageKey | None = Field(
        None, description="The message to send; default: the event's"
    )


class CommentRules(Model):
    """What the comments on an appraisal of this workflow may be besides public ones."""

    private: list[Id] = Field(
        [],
        description="Roles that may write and read private notes on an appraisal (never the "
        "employee), e.g. [manager, dept_head, hr]",
    )


class Workflow(Model):
    kind: Literal["Workflow"]
    id: Id
    version: Version = 1
    name: Text
    help: Text | None = None
    initial: Id | None = Field(None, description="Default: the first state")
    states: dict[Id, State] = Field(min_length=1)
    transitions: list[TransitionDef] = Field(min_length=1)
    not_self: list[Id] = Field(
        [],
        description="Roles whose holders never act as them on their own appraisal (a quality "
        "inspector who is also an agent does not check their own actuals)",
    )
    notifications: list[NotificationRule] = Field(
        [],
        description="Who is told of what: entering a state, a step, a sign-off asked or "
        "declined, a comment, a mention",
    )
    comments: CommentRules | None = Field(
        None, description="Private notes on appraisals: who may write and read them"
    )


# --------------------------------------------------------------------------- Incentives


class Grade(Model):
    grade: GradeId
    label: Text | None = None
    min_score: float
    quota_min: Percent | None = None
    quota_max: Percent | None = None
    quota_enforce: Literal["soft", "hard"] | None = Field(
        None, description="Whether this grade's quota warns or blocks; default: the policy's"
    )
    bonus_multiplier: float = Field(1.0, ge=0, le=100)
    actions: list[Id] = Field(
        [],
        description="Follow-ups: the policy's own `actions`, or a built-in one "
        "(promotion_nomination, salary_review, training, coaching, improvement_plan)",
    )
    help: Text | None = None

    @model_validator(mode="after")
    def _quota_order(self) -> Grade:
        if self.quota_min is not None and self.quota_max is not None:
            if self.quota_min > self.quota_max:
                raise ValueError("quota_min is larger than quota_max")
        return self


class Quotas(Model):
    """How the grades' quota_min / quota_max are applied at calibration."""

    scope: Literal["department", "subtree", "company"] = Field(
        "department",
        description="The population a share is counted in: each department alone, a department "
        "with its sub-departments, or the whole cycle",
    )
    min_population: int = Field(
        5, ge=1, le=1_000_000, description="Smaller populations have no quotas (small teams)"
    )
    enforce: Literal["soft", "hard"] = Field(
        "soft",
        description="soft: a broken quota is a warning and a sign-off needs a comment; "
        "hard: it blocks the sign-off",
    )


class Budget(Model):
    """A bonus pool per department: an amount, or base_bonus × headcount × factor."""

    factor: float | None = Field(
        None, ge=0, le=100, description="Pool = base_bonus × the department's headcount × factor"
    )
    amounts: dict[Id, float] = Field(
        {}, description="A department's pool as an amount (department id → amount); beats factor"
    )
    fit: bool = Field(
        False,
        description="Scale the department's bonuses down pro rata when they add up to more "
        "than the pool (fixed when each appraisal's calibration is signed off)",
    )

    @model_validator(mode="after")
    def _some_pool(self) -> Budget:
        if self.factor is None and not self.amounts:
            raise ValueError("a budget needs a factor (base_bonus × headcount × factor) or amounts")
        if any(v < 0 for v in self.amounts.values()):
            raise ValueError("a pool cannot be negative")
        return self


ROUNDING_UNITS = (0.01, 0.1, 1, 10, 100)


class Rounding(Model):
    """How bonus amounts are rounded (to the fen, to the yuan, to 100 yuan…)."""

    unit: float = Field(
        0.01, description="Round to a multiple of this: 0.01, 0.1, 1, 10 or 100 (yuan)"
    )
    mode: Literal["half_up", "half_even", "down", "up"] = Field(
        "half_up", description="half_up (四舍五入), half_even, down (toward zero) or up"
    )

    @model_validator(mode="after")
    def _unit(self) -> Rounding:
        if self.unit not in ROUNDING_UNITS:
            raise ValueError("unit is one of 0.01, 0.1, 1, 10, 100")
        return self


class ActionDef(Model):
    """A follow-up a policy calls for (a promotion nomination, coaching…)."""

    id: Id
    label: Text
    owner: Id | None = Field(None, description="The role that follows it up, e.g. manager, hr")
    days: int | None = Field(None, ge=1, le=3650, description="Days to complete it")
    help: Text | None = None


class IncentivePolicy(Model):
    kind: Literal["IncentivePolicy"]
    id: Id
    version: Version = 1
    name: Text
    help: Text | None = None
    workflow: Id | None = Field(None, description="The workflow whose appraisals it grades")
    base_bonus: float = Field(0, ge=0, description="Default base bonus when a person has none")
    grades: list[Grade] = Field(
        [], description="Highest first; the first match wins. None: a bonus without grades"
    )
    bonus: Expression | None = Field(
        None,
        description="Default: base_bonus * bonus_multiplier * department.bonus_coefficient. "
        "Reads the form's values (kpis.revenue.actual, fields), score, grade, "
        "bonus_multiplier, base_bonus, department, position and person.<attribute>",
    )
    bonus_cap: Expression | None = Field(None, description="The bonus is at most this")
    rounding: Rounding = Field(
        Rounding.model_validate({}), description="How bonus amounts are rounded"
    )
    budget: Budget | None = Field(None, description="A bonus pool per department (optional)")
    quotas: Quotas = Field(
        Quotas.model_validate({}), description="How grade quotas apply at calibration"
    )
    actions: list[ActionDef] = Field([], description="Follow-ups the grades may call for")


PERSON_TYPES = ("number", "integer", "money", "text")


class PersonAttribute(Model):
    """A fact about a person (monthly salary, sales quota, level), filled by the people import."""

    id: Id
    type: Literal["number", "integer", "money", "text"] = "number"
    label: Text
    read: list[Id] = Field(
        ["hr", "admin"],
        description="Who may see it: roles such as hr, admin, manager, employee; formulas "
        "read it as person.<id> whoever looks, but pages show it only to these",
    )
    help: Text | None = None


class PersonAttributes(Model):
    """The attributes every person may have, declared once for the company."""

    kind: Literal["PersonAttributes"]
    id: Id
    version: Version = 1
    attributes: list[PersonAttribute] = Field(min_length=1)


Definition = Department | Form | Workflow | IncentivePolicy | PersonAttributes
KINDS: dict[str, type[Definition]] = {
    "Department": Department,
    "Form": Form,
    "Workflow": Workflow,
    "IncentivePolicy": IncentivePolicy,
    "PersonAttributes": PersonAttributes,
}
