"""events, audit log, outbox, photos, patrols

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:14:11.659825
"""

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ack_minutes", sa.Float(), nullable=False),
        sa.Column("resolve_minutes", sa.Float(), nullable=False),
        sa.Column("big", sa.Boolean(), nullable=False),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index(op.f("ix_category_code"), "category", ["code"], unique=True)
    op.create_table(
        "event_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("from_level", sa.Integer(), nullable=True),
        sa.Column("to_level", sa.Integer(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "version"),
    )
    op.create_index(op.f("ix_event_audit_event_id"), "event_audit", ["event_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_outbox_event_id"), "outbox", ["event_id"], unique=False)
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["available_at"],
        unique=False,
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_table(
        "photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("exif_lon", sa.Float(), nullable=True),
        sa.Column("exif_lat", sa.Float(), nullable=True),
        sa.Column("exif_taken_at", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_geospatial_table(
        "event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("coord", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("orig_lon", sa.Float(), nullable=False),
        sa.Column("orig_lat", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("snapped", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("assignee_role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_allowance", sa.Interval(), nullable=True),
        sa.Column("resolve_allowance", sa.Interval(), nullable=True),
        sa.Column("ack_remaining", sa.Interval(), nullable=True),
        sa.Column("resolve_remaining", sa.Interval(), nullable=True),
        sa.Column("deadline_version", sa.Integer(), nullable=False),
        sa.Column(
            "warnings_sent",
            postgresql.ARRAY(sa.String()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("redispatch_count", sa.Integer(), nullable=False),
        sa.Column("escalation_count", sa.Integer(), nullable=False),
        sa.Column(
            "last_escalation_reason", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True
        ),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume_status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grid.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_geospatial_index(
        "idx_event_geom",
        "event",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_event_assignee_status", "event", ["assignee_id", "status"], unique=False)
    op.create_index(op.f("ix_event_category_id"), "event", ["category_id"], unique=False)
    op.create_index(op.f("ix_event_closed_at"), "event", ["closed_at"], unique=False)
    op.create_index(op.f("ix_event_community_id"), "event", ["community_id"], unique=False)
    op.create_index(op.f("ix_event_created_at"), "event", ["created_at"], unique=False)
    op.create_index("ix_event_grid_created", "event", ["grid_id", "created_at"], unique=False)
    op.create_index("ix_event_open_due", "event", ["status", "due_at"], unique=False)
    op.create_index(op.f("ix_event_reporter_id"), "event", ["reporter_id"], unique=False)
    op.create_index(op.f("ix_event_status"), "event", ["status"], unique=False)
    op.create_table(
        "event_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["photo.id"],
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "stage", "photo_id"),
    )
    op.create_index(op.f("ix_event_photo_event_id"), "event_photo", ["event_id"], unique=False)
    op.create_geospatial_table(
        "patrol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("length_m", sa.Float(), nullable=True),
        sa.Column(
            "track",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grid.id"],
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_geospatial_index(
        "idx_patrol_track",
        "patrol",
        ["track"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_patrol_grid_id"), "patrol", ["grid_id"], unique=False)
    op.create_index(op.f("ix_patrol_staff_id"), "patrol", ["staff_id"], unique=False)
    op.create_geospatial_table(
        "patrol_point",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrol.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patrol_id", "batch_id", "seq"),
    )
    op.create_geospatial_index(
        "idx_patrol_point_geom",
        "patrol_point",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_patrol_point_patrol_id"), "patrol_point", ["patrol_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_patrol_point_patrol_id"), table_name="patrol_point")
    op.drop_geospatial_index(
        "idx_patrol_point_geom",
        table_name="patrol_point",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_point")
    op.drop_index(op.f("ix_patrol_staff_id"), table_name="patrol")
    op.drop_index(op.f("ix_patrol_grid_id"), table_name="patrol")
    op.drop_geospatial_index(
        "idx_patrol_track", table_name="patrol", postgresql_using="gist", column_name="track"
    )
    op.drop_geospatial_table("patrol")
    op.drop_index(op.f("ix_event_photo_event_id"), table_name="event_photo")
    op.drop_table("event_photo")
    op.drop_index(op.f("ix_event_status"), table_name="event")
    op.drop_index(op.f("ix_event_reporter_id"), table_name="event")
    op.drop_index("ix_event_open_due", table_name="event")
    op.drop_index("ix_event_grid_created", table_name="event")
    op.drop_index(op.f("ix_event_created_at"), table_name="event")
    op.drop_index(op.f("ix_event_community_id"), table_name="event")
    op.drop_index(op.f("ix_event_closed_at"), table_name="event")
    op.drop_index(op.f("ix_event_category_id"), table_name="event")
    op.drop_index("ix_event_assignee_status", table_name="event")
    op.drop_geospatial_index(
        "idx_event_geom", table_name="event", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("event")
    op.drop_table("photo")
    op.drop_index(
        "ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("processed_at IS NULL")
    )
    op.drop_index(op.f("ix_outbox_event_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_event_audit_event_id"), table_name="event_audit")
    op.drop_table("event_audit")
    op.drop_index(op.f("ix_category_code"), table_name="category")
    op.drop_table("category")
