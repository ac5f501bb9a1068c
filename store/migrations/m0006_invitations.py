"""Team invitations (pending, accepted, revoked), at most one open per address and project."""
from store.team import OPEN_INVITATION_INDEX, Invitation


def up(db):
    db.create_tables([Invitation], safe=True)
    db.execute_sql(OPEN_INVITATION_INDEX)
