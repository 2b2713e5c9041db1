-- +goose Up
-- Cases. open_key is "station|category" while an alert case is not closed,
-- NULL otherwise: the unique index keeps one open alert case per station
-- and category, across replicas.
CREATE TABLE cases_cases (
	id             TEXT PRIMARY KEY,
	source         TEXT NOT NULL,
	category       TEXT NOT NULL,
	state          TEXT NOT NULL,
	prior_state    TEXT NOT NULL DEFAULT '',
	priority       INTEGER NOT NULL DEFAULT 0,
	complex        INTEGER NOT NULL DEFAULT 0,
	corroborated   INTEGER NOT NULL DEFAULT 0,
	station        TEXT NOT NULL DEFAULT '',
	point          TEXT NOT NULL DEFAULT '',
	grid           TEXT NOT NULL DEFAULT '',
	team           TEXT NOT NULL DEFAULT '',
	escalation     INTEGER NOT NULL DEFAULT 0,
	escalated_grid TEXT NOT NULL DEFAULT '',
	lat            DOUBLE PRECISION,
	lon            DOUBLE PRECISION,
	description    TEXT NOT NULL DEFAULT '',
	status_notes   TEXT NOT NULL DEFAULT '',
	rating         TEXT NOT NULL DEFAULT '',
	open_key       TEXT,
	received_at    BIGINT NOT NULL,
	entered_at     BIGINT NOT NULL,
	resolved_at    BIGINT,
	closed_at      BIGINT,
	rated_at       BIGINT,
	paused_at      BIGINT,
	seq            BIGINT NOT NULL DEFAULT 0,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_one_open_alert ON cases_cases (open_key);
CREATE INDEX cases_cases_received ON cases_cases (received_at, id);
CREATE INDEX cases_cases_team ON cases_cases (team, state);

-- The audit trail.
CREATE TABLE cases_events (
	case_id    TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	at         BIGINT NOT NULL,
	by_who     TEXT NOT NULL,
	action     TEXT NOT NULL,
	from_state TEXT NOT NULL DEFAULT '',
	to_state   TEXT NOT NULL DEFAULT '',
	comment    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (case_id, seq)
);

-- Alert episodes attached to cases: an episode belongs to one case.
CREATE TABLE cases_alerts (
	episode_id  TEXT PRIMARY KEY,
	case_id     TEXT NOT NULL,
	rule        TEXT NOT NULL,
	station     TEXT NOT NULL,
	medium      TEXT NOT NULL DEFAULT '',
	severity    TEXT NOT NULL DEFAULT '',
	lat         DOUBLE PRECISION,
	lon         DOUBLE PRECISION,
	firing_at   BIGINT NOT NULL,
	resolved_at BIGINT,
	evidence    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cases_alerts_case ON cases_alerts (case_id);

-- Links between cases, as a complaint corroborated by an alert's case.
CREATE TABLE cases_links (
	case_id TEXT NOT NULL,
	kind    TEXT NOT NULL,
	ref     TEXT NOT NULL,
	at      BIGINT NOT NULL,
	PRIMARY KEY (case_id, kind, ref)
);

-- Complainants: one row per Open311 request or desk entry. Personal data
-- is sealed (package cases/pii); phone_hash is a keyed hash.
CREATE TABLE cases_complainants (
	id          TEXT PRIMARY KEY,
	token       TEXT NOT NULL UNIQUE,
	case_id     TEXT NOT NULL,
	channel     TEXT NOT NULL,
	category    TEXT NOT NULL,
	name_enc    TEXT NOT NULL DEFAULT '',
	phone_enc   TEXT NOT NULL DEFAULT '',
	email_enc   TEXT NOT NULL DEFAULT '',
	phone_hash  TEXT NOT NULL DEFAULT '',
	public_name INTEGER NOT NULL DEFAULT 0,
	description TEXT NOT NULL DEFAULT '',
	lat         DOUBLE PRECISION,
	lon         DOUBLE PRECISION,
	received_at BIGINT NOT NULL,
	created_at  BIGINT NOT NULL
);
CREATE INDEX cases_complainants_case ON cases_complainants (case_id);
CREATE INDEX cases_complainants_phone ON cases_complainants (phone_hash);

-- Timers: one per deadline of a case. next is when the timer next acts
-- (a reminder, the deadline, an overdue reminder), NULL when met, missed
-- at entry, or paused. A timer acts in the transaction that claims it.
CREATE TABLE cases_timers (
	id         TEXT PRIMARY KEY,
	case_id    TEXT NOT NULL,
	kind       TEXT NOT NULL,
	deadline   BIGINT NOT NULL,
	next       BIGINT,
	state      TEXT NOT NULL,
	reminders  INTEGER NOT NULL DEFAULT 0,
	overdue    INTEGER NOT NULL DEFAULT 0,
	paused_at  BIGINT,
	met_at     BIGINT,
	created_at BIGINT NOT NULL
);
CREATE INDEX cases_timers_next ON cases_timers (next);
CREATE INDEX cases_timers_case ON cases_timers (case_id);

-- The transactional outbox of escalations and reminders; id is the
-- idempotency key.
CREATE TABLE cases_outbox (
	id          TEXT PRIMARY KEY,
	case_id     TEXT NOT NULL,
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
CREATE INDEX cases_outbox_due ON cases_outbox (due);

-- Alert notifications already taken in, by idempotency key.
CREATE TABLE cases_seen (
	key TEXT PRIMARY KEY,
	at  BIGINT NOT NULL
);

-- Rows locked to serialise merging of complaints across replicas.
CREATE TABLE cases_locks (
	name TEXT PRIMARY KEY
);
INSERT INTO cases_locks (name) VALUES ('complaints');
