"""Events: typed facts that happened (past tense), and the envelope they travel in.

A context declares its events as frozen dataclasses deriving from ``Event``, each with a dotted
``TYPE`` (``order.captured``) and a ``VERSION``. Adding an optional field keeps the version;
renaming, removing or changing a field's meaning bumps it. A field whose wire name is not a
Python name (``from``) says so in its metadata: ``field(metadata={"wire": "from"})``.

``DomainEvent`` is the envelope: the event's data plus who, when, which aggregate and a unique
id. On the wire it is a CloudEvents 1.0 document (``as_cloudevent``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from orderhub.core.clock import utcnow
from orderhub.core.ids import new_id

#: Every typed event class, by its ``TYPE`` (filled as classes are defined).
EVENT_TYPES: dict[str, type[Event]] = {}
CLOUDEVENTS_SOURCE = "/orderhub"


@dataclass(frozen=True)
class Event:
    """A typed domain event. Subclasses set ``TYPE``, ``VERSION`` and ``AGGREGATE``."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    AGGREGATE: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TYPE:
            EVENT_TYPES[cls.TYPE] = cls

    @property
    def type(self) -> str:
        return self.TYPE

    @property
    def data(self) -> dict[str, Any]:
        """The event's fields under their wire names, as the outbox and the bus carry them."""
        return {f.metadata.get("wire", f.name): getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """An event about one aggregate, as stored in the outbox and published.

    ``type`` is a dotted past-tense name (``order.captured``); ``aggregate_id`` keys the
    per-aggregate ordering on the bus (the CloudEvents ``subject``); ``id`` de-duplicates
    deliveries.
    """

    type: str
    aggregate_type: str
    aggregate_id: str
    data: dict[str, Any]
    actor: str = "system"
    occurred_at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=lambda: new_id("evt"))
    version: int = 1

    @classmethod
    def of(cls, event: Event, *, aggregate_id: str, actor: str, occurred_at: datetime) -> DomainEvent:
        """The envelope for a typed event."""
        return cls(
            type=event.TYPE,
            aggregate_type=event.AGGREGATE,
            aggregate_id=aggregate_id,
            data=event.data,
            actor=actor,
            occurred_at=occurred_at,
            version=event.VERSION,
        )

    def as_cloudevent(self) -> dict[str, Any]:
        """The CloudEvents 1.0 JSON form (structured mode)."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": f"{CLOUDEVENTS_SOURCE}/{self.aggregate_type}",
            "type": self.type,
            "subject": self.aggregate_id,
            "time": self.occurred_at.isoformat(),
            "datacontenttype": "application/json",
            "dataschema": f"{CLOUDEVENTS_SOURCE}/events/{self.type}/v{self.version}",
            "orderhubactor": self.actor,
            "data": self.data,
        }

    @classmethod
    def from_cloudevent(cls, doc: dict[str, Any]) -> DomainEvent:
        """Read back what ``as_cloudevent`` wrote."""
        return cls(
            type=doc["type"],
            aggregate_type=doc["source"].rsplit("/", 1)[-1],
            aggregate_id=doc["subject"],
            data=doc["data"],
            actor=doc.get("orderhubactor", "system"),
            occurred_at=datetime.fromisoformat(doc["time"]),
            id=doc["id"],
            version=int(doc.get("dataschema", "v1").rsplit("/v", 1)[-1]),
        )
