-- +goose Up
-- Episodes: at most one open (pending or firing) per rule and station,
-- kept by the partial unique index below on both engines.
CREATE TABLE alerts_episodes (
	id          TEXT PRIMARY KEY,
	rule        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	station     TEXT NOT NULL,
	point       TEXT NOT NULL DEFAULT '',
	medium      TEXT NOT NULL DEFAULT '',
	severity    TEXT NOT NULL,
	state       TEXT NOT NULL,
	fired       INTEGER NOT NULL DEFAULT 0,
	labels      TEXT NOT NULL,
	annotations TEXT NOT NULL,
	evidence    TEXT NOT NULL,
	value       DOUBLE PRECISION NOT NULL DEFAULT 0,
	started_at  BIGINT NOT NULL,
	firing_at   BIGINT,
	resolved_at BIGINT,
	clear_since BIGINT,
	acked_at    BIGINT,
	acked_by    TEXT,
	notified_at BIGINT,
	seq         BIGINT NOT NULL DEFAULT 1,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX alerts_episodes_one_open ON alerts_episodes (rule, station) WHERE state <> 'resolved';
CREATE INDEX alerts_episodes_started ON alerts_episodes (started_at, id);
CREATE INDEX alerts_episodes_station ON alerts_episodes (station, rule, started_at);

CREATE TABLE alerts_transitions (
	episode_id  TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	from_state  TEXT NOT NULL,
	to_state    TEXT NOT NULL,
	at          BIGINT NOT NULL,
	recorded_at BIGINT NOT NULL,
	by_who      TEXT NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (episode_id, seq)
);

-- The transactional outbox: one row per delivery to one receiver, written
-- in the transaction of the transition; id is the idempotency key.
CREATE TABLE alerts_outbox (
	id          TEXT PRIMARY KEY,
	episode_id  TEXT NOT NULL,
	receiver    TEXT NOT NULL,
	kind        TEXT NOT NULL,
	payload     TEXT NOT NULL,
	state       TEXT NOT NULL,
	due         BIGINT,
	owner       TEXT,
	lease_until BIGINT,
	attempts    INTEGER NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL,
	done_at     BIGINT,
	last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_outbox_due ON alerts_outbox (due);
CREATE INDEX alerts_outbox_episode ON alerts_outbox (episode_id);

CREATE TABLE alerts_attempts (
	outbox_id TEXT NOT NULL,
	n         INTEGER NOT NULL,
	at        BIGINT NOT NULL,
	replica   TEXT NOT NULL,
	ok        INTEGER NOT NULL,
	retry     INTEGER NOT NULL,
	error     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (outbox_id, n)
);

-- The last arrival of every station, so that offline keeps counting after
-- a restart.
CREATE TABLE alerts_stations (
	station      TEXT PRIMARY KEY,
	point        TEXT NOT NULL DEFAULT '',
	medium       TEXT NOT NULL DEFAULT '',
	last_arrival BIGINT NOT NULL,
	last_event   BIGINT NOT NULL,
	will_at      BIGINT
);

CREATE TABLE alerts_silences (
	id         TEXT PRIMARY KEY,
	matchers   TEXT NOT NULL,
	starts_at  BIGINT NOT NULL,
	ends_at    BIGINT NOT NULL,
	created_by TEXT NOT NULL,
	comment    TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
