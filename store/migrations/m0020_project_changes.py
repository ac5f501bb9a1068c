"""The project change log (store/project_changes.py): how the other server processes learn, within
about a second, that a project's settings or keys changed, so their caches can keep a project for
minutes instead of seconds."""
from store.project_changes import ProjectChange


def up(db):
    db.create_tables([ProjectChange], safe=True)
