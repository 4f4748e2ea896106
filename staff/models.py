"""Tables of people on the roster (staff) and their logins (users, refresh tokens)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from domain.roles import Role


class Staff(SQLModel, table=True):
    """A person on the roster: where they work and in what role."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    role: Role = Field(
        sa_column=Column(
            SAEnum(Role, name="role", values_callable=lambda roles: [r.value for r in roles]),
            nullable=False,
            index=True,
        )
    )
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    department: str | None = Field(default=None, max_length=32, index=True)
    on_duty: bool = True


class User(SQLModel, table=True):
    """A login. Passwords are argon2 hashes; failed sign-ins are throttled in Redis."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str
    staff_id: int = Field(foreign_key="staff.id", unique=True)
    is_active: bool = True


class RefreshToken(SQLModel, table=True):
    """An opaque refresh token, stored only as its sha256; rotated on use, revoked on logout.
    ``family``: the sign-in it continues (rotation keeps it; a replay revokes all of it)."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    family: str = Field(max_length=32, index=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
