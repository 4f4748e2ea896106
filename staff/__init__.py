"""People (feature): the roster, logins and tokens, and jurisdiction compiled to SQL."""
