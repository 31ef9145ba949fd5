"""What the ingress remembers: webhook events it acted on, and signatures it has seen.

An event is *claimed* before it is acted on and *done* after; a failed action gives the claim
back, so the sender's retry acts. A claim left by a crashed process expires after ``lease``, so
a retry takes it over. Both tables rely on insert-or-ignore on their primary key, which is atomic
on SQLite and on PostgreSQL, so concurrent deliveries of one event act once.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Insert, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "ingress_events"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    workflow_id: Mapped[str] = mapped_column(String(128))
    body_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignatureRow(Base):
    __tablename__ = "ingress_signatures"

    signature: Mapped[str] = mapped_column(String(80), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Claim(enum.Enum):
    """What ``claim`` found."""

    NEW = "new"  # act on it, then ``done`` or ``release``
    DONE = "done"  # acted on before: answer as a duplicate
    IN_FLIGHT = "in-flight"  # another delivery is acting on it right now
    CONFLICT = "conflict"  # the event id was used before for another payload


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class EventLog:
    """The ingress's own database (``PEYVAND_INGRESS_DATABASE_URL``; SQLite in ``data/``).

    Args:
        url: SQLAlchemy async URL.
        lease: How long a claim protects an event that is being acted on.
    """

    def __init__(self, url: str, *, lease: timedelta = timedelta(seconds=60)) -> None:
        self._engine: AsyncEngine = create_async_engine(url)
        self._session = async_sessionmaker(self._engine, expire_on_commit=False)
        self._lease = lease
        self._ready = False
        self._lock = asyncio.Lock()

    async def create_schema(self) -> None:
        """Create the tables if they are missing (idempotent)."""
        async with self._lock:
            if not self._ready:
                async with self._engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
                self._ready = True

    async def close(self) -> None:
        await self._engine.dispose()

    def _insert_or_ignore(self, table: type[Base], **values: object) -> Insert:
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).values(**values).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(table).values(**values).on_conflict_do_nothing()
        raise NotImplementedError(
            f"the ingress database supports SQLite and PostgreSQL, not {dialect}"
        )

    async def first_sighting(self, signature: str, *, forget_before: datetime) -> bool:
        """Remember a signature; False when it was seen before (a replayed request).

        Signatures older than ``forget_before`` are dropped: their timestamp is stale by then.
        """
        await self.create_schema()
        async with self._session.begin() as session:
            await session.execute(delete(SignatureRow).where(SignatureRow.seen_at < forget_before))
            result = await session.execute(
                self._insert_or_ignore(SignatureRow, signature=signature, seen_at=_now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def forget_signature(self, signature: str) -> None:
        """Let the same signed request be delivered again (after we failed to act on it)."""
        async with self._session.begin() as session:
            await session.execute(delete(SignatureRow).where(SignatureRow.signature == signature))

    async def claim(
        self, source: str, event_id: str, *, kind: str, workflow_id: str, body_sha256: str
    ) -> Claim:
        """Claim an event for acting on it; see ``Claim`` for the answers."""
        await self.create_schema()
        key = (EventRow.source == source) & (EventRow.event_id == event_id)
        async with self._session.begin() as session:
            inserted = await session.execute(
                self._insert_or_ignore(
                    EventRow,
                    source=source,
                    event_id=event_id,
                    kind=kind,
                    workflow_id=workflow_id,
                    body_sha256=body_sha256,
                    state="claimed",
                    claimed_at=_now(),
                )
            )
            if inserted.rowcount:  # type: ignore[attr-defined]
                return Claim.NEW
            row = (await session.execute(select(EventRow).where(key))).scalar_one_or_none()
            if row is None:  # released between our insert and our read: the retry will act
                return Claim.IN_FLIGHT
            if row.kind != kind or row.workflow_id != workflow_id:
                return Claim.CONFLICT
            if row.state == "done":
                return Claim.DONE
            if _aware(row.claimed_at) > _now() - self._lease:
                return Claim.IN_FLIGHT
            # A claim left by a process that died: take it over, unless another retry did.
            taken = await session.execute(
                update(EventRow)
                .where(key, EventRow.state == "claimed", EventRow.claimed_at == row.claimed_at)
                .values(claimed_at=_now(), body_sha256=body_sha256)
            )
            return Claim.NEW if taken.rowcount else Claim.IN_FLIGHT  # type: ignore[attr-defined]

    async def done(self, source: str, event_id: str) -> None:
        """The event was acted on: every later delivery of it is a duplicate."""
        async with self._session.begin() as session:
            await session.execute(
                update(EventRow)
                .where(EventRow.source == source, EventRow.event_id == event_id)
                .values(state="done")
            )

    async def release(self, source: str, event_id: str) -> None:
        """Acting on the event failed: forget the claim, so a retry acts."""
        async with self._session.begin() as session:
            await session.execute(
                delete(EventRow).where(
                    EventRow.source == source,
                    EventRow.event_id == event_id,
                    EventRow.state == "claimed",
                )
            )
