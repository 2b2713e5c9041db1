-- +goose Up
-- The scope of a silence made by a token that is not an admin's: it mutes
-- only the stations its team covers or that lie in its grid cell path.
-- Both empty (an admin's silence, or one stored before): every station.
ALTER TABLE alerts_silences ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts_silences ADD COLUMN grid TEXT NOT NULL DEFAULT '';
