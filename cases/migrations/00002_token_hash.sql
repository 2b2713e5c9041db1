-- +goose Up
-- A complainant's token is kept as its SHA-256, in hex, as package auth
-- keeps bearer tokens. SQLite has no SHA-256 in SQL, so the rows written
-- before this version, which hold the token in clear, are hashed by
-- cases.New after migrating (hashClearTokens). An older build refuses
-- this version (db.ErrSchemaNewer), and one still running fails on the
-- renamed column rather than store another token in clear.
ALTER TABLE cases_complainants RENAME COLUMN token TO token_hash;
