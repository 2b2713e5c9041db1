-- +goose Up
-- A supervisor's token names the grid cell it supervises: county,
-- county/township or county/township/village.
ALTER TABLE auth_tokens ADD COLUMN grid TEXT NOT NULL DEFAULT '';
