-- +goose Up
CREATE TABLE auth_tokens (
	id          TEXT PRIMARY KEY,
	hash        TEXT NOT NULL UNIQUE,
	role        TEXT NOT NULL,
	team        TEXT NOT NULL DEFAULT '',
	name        TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT,
	revoked_at  BIGINT
);
