-- keyward store schema, version 1.
-- Portable SQL on purpose (but for WITHOUT ROWID and the trigger syntax): the
-- PostgreSQL store mirrors these tables, with BIGINT and BYTEA where SQLite says
-- INTEGER and BLOB, and text columns in the "C" collation so that ids sort by
-- bytes.

-- Every resource is a JSON document keyed by kind and id, with its metadata.
-- Times are domain.TimeLayout strings, so that comparing them compares instants.
CREATE TABLE resources (
    kind     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    created  TEXT    NOT NULL,
    modified TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    PRIMARY KEY (kind, id)
);

-- The indexed attribute values of each resource (domain.Resource.Attrs), one row
-- per distinct value: what the query model filters on. folded is the value
-- case-folded. The primary key clusters a record's values together (its Get and
-- replace read them in one range); the two indexes serve case-exact and folded
-- comparisons and, with the key columns they carry, cover the look-up of ids.
CREATE TABLE attrs (
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    folded TEXT NOT NULL,
    PRIMARY KEY (kind, id, name, value),
    FOREIGN KEY (kind, id) REFERENCES resources (kind, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX attrs_by_folded ON attrs (kind, name, folded, id);
CREATE INDEX attrs_by_value  ON attrs (kind, name, value, id);

-- How many records each kind has, kept by Put and Delete, so that an unfiltered
-- listing (an IGA paging through every user) counts its Total without walking
-- the kind's index.
CREATE TABLE kind_counts (
    kind  TEXT    NOT NULL PRIMARY KEY,
    count INTEGER NOT NULL
);

-- Named counters (NextSequence).
CREATE TABLE sequences (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
);

-- The append-only, hash-chained audit log. body is the canonical encoding; the
-- other columns index it for the why query.
CREATE TABLE audit (
    seq            INTEGER NOT NULL PRIMARY KEY,
    at             TEXT    NOT NULL,
    identity_id    TEXT    NOT NULL DEFAULT '',
    entitlement_id TEXT    NOT NULL DEFAULT '',
    key_id         TEXT    NOT NULL DEFAULT '',
    body           BLOB    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);
-- Partial indexes: most rows leave one or two of these fields empty, and an
-- empty field is never looked up.
CREATE INDEX audit_by_identity    ON audit (identity_id, seq)    WHERE identity_id <> '';
CREATE INDEX audit_by_entitlement ON audit (entitlement_id, seq) WHERE entitlement_id <> '';
CREATE INDEX audit_by_key         ON audit (key_id, seq)         WHERE key_id <> '';

-- Audit rows are never changed or removed through keyward. (Whoever can write the
-- file can still drop these triggers; the hash chain is what detects that.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
