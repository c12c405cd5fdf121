"""Who survives a deceased resident: spouse, children and parents, from the household.

The registry records family ties only as each member's relationship to the household head,
so relationships to the deceased are derived from the two roles. Only unambiguous pairs are
derived (a grandchild of the head could be the child of any of the head's children, so it
is not listed as anyone's child); members of other households are not known.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.welfare.domain.facts import HouseholdRole, Member
from services.welfare.domain.model import Survivor, SurvivorRelationship

H = HouseholdRole
R = SurvivorRelationship

# (role of the deceased, role of the member) -> what the member is to the deceased.
_RELATION: dict[tuple[HouseholdRole, HouseholdRole], SurvivorRelationship] = {
    (H.HEAD, H.SPOUSE): R.SPOUSE,
    (H.HEAD, H.CHILD): R.CHILD,
    (H.HEAD, H.PARENT): R.PARENT,
    (H.SPOUSE, H.HEAD): R.SPOUSE,
    # A child of the head is taken as the child of the head's spouse too.
    (H.SPOUSE, H.CHILD): R.CHILD,
    (H.CHILD, H.HEAD): R.PARENT,
    (H.CHILD, H.SPOUSE): R.PARENT,
    (H.PARENT, H.HEAD): R.CHILD,
    (H.PARENT, H.SIBLING): R.CHILD,
    (H.PARENT, H.PARENT): R.SPOUSE,
}

# Whose parents the household shows: a child of the head has the head and spouse; the head
# and the head's siblings have the members recorded as the head's parents.
_PARENT_ROLES: dict[HouseholdRole, tuple[HouseholdRole, ...]] = {
    H.CHILD: (H.HEAD, H.SPOUSE),
    H.HEAD: (H.PARENT,),
    H.SIBLING: (H.PARENT,),
}


def relationship(deceased: Member, member: Member) -> SurvivorRelationship | None:
    if deceased.role is None or member.role is None or member.citizen_id == deceased.citizen_id:
        return None
    return _RELATION.get((deceased.role, member.role))


def is_orphan(child: Member, household: Sequence[Member]) -> bool:
    """Every parent the household records for ``child`` is deceased (and it records one)."""
    roles = _PARENT_ROLES.get(child.role) if child.role is not None else None
    if not roles:
        return False
    parents = [m for m in household if m.role in roles and m.citizen_id != child.citizen_id]
    return bool(parents) and all(p.deceased for p in parents)


def find_survivors(deceased: Member, household: Sequence[Member]) -> list[Survivor]:
    """The deceased's spouse, children and parents in the household, in household order."""
    survivors = []
    for member in household:
        relation = relationship(deceased, member)
        if relation is None:
            continue
        survivors.append(
            Survivor(
                citizen_id=member.citizen_id,
                full_name=member.full_name,
                birth_date=member.birth_date,
                relationship=relation,
                alive=not member.deceased,
                orphan=relation is R.CHILD and is_orphan(member, household),
            )
        )
    return survivors
