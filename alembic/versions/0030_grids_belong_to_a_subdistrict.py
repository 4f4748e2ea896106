"""communities and grids belong to a subdistrict (issue 16, ADR 0024)

One deployment may hold several subdistricts (街道) of a district. ``community.subdistrict_id``
and ``grid.subdistrict_id`` name the subdistrict whose code (the first 9 digits: district 6 ·
subdistrict 3) their own code begins with. Existing rows are filled from that prefix; where a
map was loaded under a ``subdistrict_code`` that is not its grids' prefix and only one
subdistrict exists, they take that one. A community name is unique within its subdistrict
(two subdistricts may both have a 新村社区), no longer across the deployment.

Revision ID: 0030
Revises: 0027
Create Date: 2026-11-29 18:30:00
"""

from alembic import op

revision: str = "0030"
down_revision: str | None = "0027"

_FILL = """
UPDATE {table} t SET subdistrict_id = s.id FROM subdistrict s
WHERE t.subdistrict_id IS NULL AND s.code = left(t.code, 9);
UPDATE {table} t SET subdistrict_id = (SELECT min(id) FROM subdistrict)
WHERE t.subdistrict_id IS NULL AND (SELECT count(*) FROM subdistrict) = 1;
"""


def upgrade() -> None:
    for table in ("community", "grid"):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN subdistrict_id integer REFERENCES subdistrict(id)"
        )
        op.execute(_FILL.format(table=table))
        op.execute(f"ALTER TABLE {table} ALTER COLUMN subdistrict_id SET NOT NULL")
        op.create_index(f"ix_{table}_subdistrict_id", table, ["subdistrict_id"])
    op.drop_constraint("community_name_key", "community", type_="unique")
    op.create_unique_constraint(
        "community_subdistrict_id_name_key", "community", ["subdistrict_id", "name"]
    )


def downgrade() -> None:
    op.drop_constraint("community_subdistrict_id_name_key", "community", type_="unique")
    op.create_unique_constraint("community_name_key", "community", ["name"])
    for table in ("grid", "community"):
        op.drop_index(f"ix_{table}_subdistrict_id", table_name=table)
        op.drop_column(table, "subdistrict_id")
