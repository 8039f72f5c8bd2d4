"""How earlier answers to the same procedure went, for a new step's message: for a yes/no
how many were yes, for a list the options most chosen, for a number the median."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from bot.domain import Attribute, DataType, Precedent, Step, StepRecord

# How many earlier answers a precedent looks at, and how many options it names.
LOOKBACK = 20
TOP_OPTIONS = 3
# Attributes summed up per message: more would crowd the card.
ATTRIBUTES_SHOWN = 3


def precedent(step: Step, earlier: Sequence[StepRecord]) -> tuple[Precedent, ...]:
    """One line per yes/no, list or number attribute of `step` that earlier answers gave a
    value for (matched by identifier); nothing when there is no history."""
    lines = []
    for attribute in step.attributes:
        values = [
            v.value
            for record in earlier
            if record.answer is not None
            for v in record.answer.values
            if v.identifier == attribute.identifier
        ]
        line = _line(attribute, values) if values else None
        if line is not None:
            lines.append(line)
        if len(lines) == ATTRIBUTES_SHOWN:
            break
    return tuple(lines)


def _line(attribute: Attribute, values: Sequence[object]) -> Precedent | None:
    label = attribute.display_label
    kind = attribute.known_type
    if kind is DataType.BOOLEAN:
        answers = [v for v in values if isinstance(v, bool)]
        return Precedent(label=label, of=len(answers), yes=sum(answers)) if answers else None
    if kind is DataType.LIST:
        labels = {o.id: o.label for o in attribute.options}
        chosen = Counter(labels.get(str(v), str(v)) for v in values)
        top = tuple(chosen.most_common(TOP_OPTIONS))
        return Precedent(label=label, of=len(values), top=top)
    if kind in (DataType.INTEGER, DataType.DECIMAL):
        numbers = [
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if not numbers:
            return None
        return Precedent(label=label, of=len(numbers), median=statistics.median(numbers))
    return None
