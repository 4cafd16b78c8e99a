"""Dynamic talkgroups: opened for an incident (through the API or the dispatch bridge),
stored with their invited members, and added to the running radio."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ptt.server.service import RadioService
from ptt.server.store import talkgroup_of
from ptt.store.models import TalkgroupMemberRow, TalkgroupRow


class TalkgroupExists(Exception):
    pass


class NoSuchTalkgroup(Exception):
    pass


async def open_talkgroup(
    sessions: async_sessionmaker[AsyncSession],
    service: RadioService,
    *,
    code: str,
    name: str,
    members: Iterable[int],
    agencies: Iterable[str] = (),
    peril_agencies: Iterable[str] = (),
    incident_ref: str | None = None,
    max_talk_seconds: int = 60,
    created_by: int | None = None,
) -> None:
    """Store and open a dynamic talkgroup; :class:`TalkgroupExists` if the code is taken."""
    member_ids = frozenset(members)
    if code in service.radio.roster.talkgroups:
        raise TalkgroupExists(code)
    async with sessions() as s, s.begin():
        found = await s.execute(select(TalkgroupRow.id).where(TalkgroupRow.code == code))
        if found.scalar_one_or_none() is not None:
            raise TalkgroupExists(code)
        row = TalkgroupRow(code=code, name=name, agencies=sorted(set(agencies)),
                           peril_agencies=sorted(set(peril_agencies)),
                           max_talk_seconds=max_talk_seconds, dynamic=True,
                           incident_ref=incident_ref, created_by_id=created_by)
        s.add(row)
        await s.flush()
        for user_id in sorted(member_ids):
            s.add(TalkgroupMemberRow(talkgroup_id=row.id, user_id=user_id))
        # Opened inside the transaction: if the radio refuses, nothing is stored.
        service.add_talkgroup(talkgroup_of(row, member_ids), row.id)


async def close_talkgroup(sessions: async_sessionmaker[AsyncSession], service: RadioService,
                          code: str) -> None:
    """Close a dynamic talkgroup: off the radio (its talker revoked, its members told) and
    out of the store. Its transmissions and recordings stay, kept as long as the retention
    of a removed talkgroup says (``ptt.retention``, rule 1). :class:`NoSuchTalkgroup` if no
    such talkgroup is stored; ``CommandRefused`` (``not_dynamic``) for a static one."""
    async with sessions() as s, s.begin():
        row = (await s.execute(select(TalkgroupRow).where(TalkgroupRow.code == code))
               ).scalar_one_or_none()
        if row is None:
            raise NoSuchTalkgroup(code)
        service.remove_talkgroup(code)
        await s.delete(row)
