-- Schema 1: the foundation. Never edit a released migration: add a new file.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
