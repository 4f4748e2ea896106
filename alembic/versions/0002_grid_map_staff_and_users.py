"""grid map, staff and users

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 18:10:09.514397
"""

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from geoalchemy2 import Geometry

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.create_table(
        "community",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index(op.f("ix_community_code"), "community", ["code"], unique=True)
    op.create_geospatial_table(
        "subdistrict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_geospatial_index(
        "idx_subdistrict_geom",
        "subdistrict",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=15), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_grid_geom", "grid", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_grid_code"), "grid", ["code"], unique=True)
    op.create_index(op.f("ix_grid_community_id"), "grid", ["community_id"], unique=False)
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "member",
                "head",
                "community",
                "dispatcher",
                "department",
                "evaluator",
                "admin",
                name="role",
            ),
            nullable=False,
        ),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grid.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_staff_community_id"), "staff", ["community_id"], unique=False)
    op.create_index(op.f("ix_staff_department"), "staff", ["department"], unique=False)
    op.create_index(op.f("ix_staff_grid_id"), "staff", ["grid_id"], unique=False)
    op.create_index(op.f("ix_staff_role"), "staff", ["role"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("staff_id"),
    )
    op.create_index(op.f("ix_users_username"), "users", ["username"], unique=True)
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_refresh_token_user_id"), "refresh_token", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_token_user_id"), table_name="refresh_token")
    op.drop_table("refresh_token")
    op.drop_index(op.f("ix_users_username"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_staff_role"), table_name="staff")
    op.drop_index(op.f("ix_staff_grid_id"), table_name="staff")
    op.drop_index(op.f("ix_staff_department"), table_name="staff")
    op.drop_index(op.f("ix_staff_community_id"), table_name="staff")
    op.drop_table("staff")
    op.drop_index(op.f("ix_grid_community_id"), table_name="grid")
    op.drop_index(op.f("ix_grid_code"), table_name="grid")
    op.drop_geospatial_index(
        "idx_grid_geom", table_name="grid", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid")
    op.drop_geospatial_index(
        "idx_subdistrict_geom",
        table_name="subdistrict",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("subdistrict")
    op.drop_index(op.f("ix_community_code"), table_name="community")
    op.drop_table("community")
    sa.Enum(name="role").drop(op.get_bind(), checkfirst=True)
