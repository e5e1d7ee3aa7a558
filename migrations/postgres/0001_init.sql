-- 0001_init: coordination tables, orgs, system key/value tables and the migration ledger (Postgres).
-- Same tables, columns, indexes and seed as migrations/sqlite/0001_init.sql, with the Postgres types of
-- storage.md §1: T1 and ISO times are timestamptz (T1 columns hold whole seconds), JSON lists are compact JSON
-- TEXT (byte-identical to SQLite), bools are BOOLEAN, integers BIGINT, auto ids BIGINT identity, blobs BYTEA.
-- Every org-scoped table references orgs(id).
-- Text columns use the "C" collation so comparisons and ORDER BY are byte order, as SQLite's BINARY is, whatever
-- the database's default locale. `ord` columns make SQLite's implicit rowid explicit: the insertion-order
-- tie-breaker of threads, messages, introspections and summaries.

CREATE TABLE schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    checksum   TEXT COLLATE "C" NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE orgs (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    name                 TEXT COLLATE "C" NOT NULL UNIQUE,
    status               TEXT COLLATE "C" NOT NULL DEFAULT 'active',
    idp_provider         TEXT COLLATE "C",
    idp_org_id           TEXT COLLATE "C",
    allowlist_github_org TEXT COLLATE "C",
    allowlist_idp_org_id TEXT COLLATE "C",
    created_at           TIMESTAMPTZ NOT NULL
);

INSERT INTO orgs (id, name, status, created_at)
VALUES ('default', 'Default Organization', 'active', date_trunc('second', now()));

CREATE TABLE system_config (
    key        TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE system_state (
    key        TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE agents (
    org_id        TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    id            TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    modules       TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    status        TEXT COLLATE "C" NOT NULL DEFAULT 'offline',
    registered_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX agents_org_status_seen ON agents (org_id, status, last_seen_at);

CREATE TABLE agent_activity_status (
    org_id           TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id         TEXT COLLATE "C" NOT NULL,
    activity_status  TEXT COLLATE "C" NOT NULL DEFAULT 'idle',
    current_file     TEXT COLLATE "C",
    current_thread   TEXT COLLATE "C",
    last_activity_at TIMESTAMPTZ,
    PRIMARY KEY (org_id, agent_id)
);

CREATE TABLE revoked_agents (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id   TEXT COLLATE "C" NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL,
    revoked_by TEXT COLLATE "C",
    PRIMARY KEY (org_id, agent_id)
);

CREATE TABLE threads (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    org_id               TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    initiator_id         TEXT COLLATE "C" NOT NULL,
    subject              TEXT COLLATE "C" NOT NULL,
    plan                 TEXT COLLATE "C",
    target_modules       TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    target_files         TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    depends_on_files     TEXT COLLATE "C",
    exports_affected     TEXT COLLATE "C",
    status               TEXT COLLATE "C" NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'resolving', 'resolved', 'cancelled', 'poisoned')),
    resolution_summary   TEXT COLLATE "C",
    resolution_type      TEXT COLLATE "C",
    conflicts            TEXT COLLATE "C",
    round                BIGINT NOT NULL DEFAULT 1,
    max_rounds           BIGINT NOT NULL DEFAULT 4,
    timeout_seconds      BIGINT NOT NULL DEFAULT 600,
    keep_open            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    resolved_at          TIMESTAMPTZ,
    expected_respondents TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    claimed_by           TEXT COLLATE "C",
    claimed_at           TIMESTAMPTZ,
    unclaim_count        BIGINT NOT NULL DEFAULT 0,
    assigned_to          TEXT COLLATE "C",
    run_id               TEXT COLLATE "C",
    ord                  BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX threads_org_status ON threads (org_id, status);
CREATE INDEX threads_org_initiator ON threads (org_id, initiator_id);
CREATE INDEX threads_org_run ON threads (org_id, run_id);
CREATE INDEX threads_org_created ON threads (org_id, created_at);
-- The timeout sweeper scans live threads of every org.
CREATE INDEX threads_status ON threads (status);

CREATE TABLE thread_files (
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    kind      TEXT COLLATE "C" NOT NULL CHECK (kind IN ('target', 'depends')),
    file_path TEXT COLLATE "C" NOT NULL,
    org_id    TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    PRIMARY KEY (thread_id, kind, file_path)
);
CREATE INDEX thread_files_org_path ON thread_files (org_id, file_path, kind);

CREATE TABLE thread_messages (
    id               TEXT COLLATE "C" PRIMARY KEY,
    org_id           TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    thread_id        TEXT COLLATE "C" NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    agent_id         TEXT COLLATE "C" NOT NULL,
    agent_name       TEXT COLLATE "C",
    type             TEXT COLLATE "C" NOT NULL,
    content          TEXT COLLATE "C" NOT NULL,
    context_snapshot TEXT COLLATE "C",
    in_reply_to      TEXT COLLATE "C",
    round            BIGINT NOT NULL DEFAULT 1,
    token_estimate   BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    ord              BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX thread_messages_thread_created ON thread_messages (thread_id, created_at);
CREATE INDEX thread_messages_org_created ON thread_messages (org_id, created_at);
CREATE INDEX thread_messages_org_agent ON thread_messages (org_id, agent_id);

CREATE TABLE action_summaries (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    session_id TEXT COLLATE "C" NOT NULL,
    agent_id   TEXT COLLATE "C" NOT NULL,
    file_path  TEXT COLLATE "C",
    summary    TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    ord        BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX action_summaries_org_agent_created ON action_summaries (org_id, agent_id, created_at);
CREATE INDEX action_summaries_org_session ON action_summaries (org_id, session_id);

CREATE TABLE events (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    seq        BIGINT NOT NULL,
    type       TEXT COLLATE "C" NOT NULL,
    payload    TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE org_sequences (
    org_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs(id) ON DELETE RESTRICT,
    event_seq BIGINT NOT NULL DEFAULT 0,
    index_seq BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE dependency_map (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    module_id  TEXT COLLATE "C" NOT NULL,
    depends_on TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    exports    TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    owners     TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    PRIMARY KEY (org_id, module_id)
);

CREATE TABLE file_activity (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    session_id      TEXT COLLATE "C" NOT NULL,
    agent_id        TEXT COLLATE "C" NOT NULL,
    agent_name      TEXT COLLATE "C",
    tool_name       TEXT COLLATE "C" NOT NULL,
    file_path       TEXT COLLATE "C" NOT NULL,
    module          TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    symbols_touched TEXT COLLATE "C",
    content_hash    TEXT COLLATE "C"
);
CREATE INDEX file_activity_org_path_created ON file_activity (org_id, file_path, created_at);
CREATE INDEX file_activity_org_session_id ON file_activity (org_id, session_id, id);
CREATE INDEX file_activity_org_agent_created ON file_activity (org_id, agent_id, created_at);
CREATE INDEX file_activity_created ON file_activity (created_at);

CREATE TABLE introspections (
    id           TEXT COLLATE "C" PRIMARY KEY,
    org_id       TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    thread_id    TEXT COLLATE "C" NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    agent_id     TEXT COLLATE "C" NOT NULL,
    score        BIGINT NOT NULL,
    reasons      TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    status       TEXT COLLATE "C" NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'responded', 'expired')),
    response     TEXT COLLATE "C",
    concerned    BOOLEAN,
    created_at   TIMESTAMPTZ NOT NULL,
    responded_at TIMESTAMPTZ,
    ord          BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX introspections_org_agent_status ON introspections (org_id, agent_id, status);
CREATE INDEX introspections_thread ON introspections (thread_id);

CREATE TABLE working_files (
    org_id           TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id         TEXT COLLATE "C" NOT NULL,
    file_path        TEXT COLLATE "C" NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    last_activity_at TIMESTAMPTZ NOT NULL,
    claim_until      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, agent_id, file_path)
);
CREATE INDEX working_files_org_path ON working_files (org_id, file_path);
CREATE INDEX working_files_claim_until ON working_files (claim_until);

CREATE TABLE git_cochange (
    org_id        TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    file_a        TEXT COLLATE "C" NOT NULL,
    file_b        TEXT COLLATE "C" NOT NULL,
    count         BIGINT NOT NULL DEFAULT 0,
    total_commits BIGINT NOT NULL DEFAULT 0,
    computed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, file_a, file_b),
    CHECK (file_a < file_b)
);
CREATE INDEX git_cochange_org_a ON git_cochange (org_id, file_a);
CREATE INDEX git_cochange_org_b ON git_cochange (org_id, file_b);

CREATE TABLE git_cochange_meta (
    org_id TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    k      TEXT COLLATE "C" NOT NULL,
    v      TEXT COLLATE "C",
    PRIMARY KEY (org_id, k)
);

CREATE TABLE layer_firings (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id    TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    thread_id TEXT COLLATE "C" NOT NULL,
    agent_id  TEXT COLLATE "C" NOT NULL,
    layer     TEXT COLLATE "C" NOT NULL,
    score     BIGINT NOT NULL,
    fired_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX layer_firings_org_layer_fired ON layer_firings (org_id, layer, fired_at);
CREATE INDEX layer_firings_thread ON layer_firings (thread_id);
CREATE INDEX layer_firings_fired ON layer_firings (fired_at);

CREATE TABLE agent_inbox_state (
    org_id             TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id           TEXT COLLATE "C" NOT NULL,
    subscribed_at      TIMESTAMPTZ NOT NULL,
    require_ack        BOOLEAN NOT NULL DEFAULT FALSE,
    open_batch_id      TEXT COLLATE "C",
    dropped_total      BIGINT NOT NULL DEFAULT 0,
    dropped_unreported BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, agent_id)
);

CREATE TABLE agent_inbox (
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id    TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL,
    topic       TEXT COLLATE "C" NOT NULL,
    payload     BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    batch_id    TEXT COLLATE "C",
    PRIMARY KEY (org_id, agent_id, seq)
);
CREATE INDEX agent_inbox_received ON agent_inbox (received_at);

CREATE TABLE mqtt_retained (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    topic      TEXT COLLATE "C" NOT NULL,
    payload    BYTEA NOT NULL,
    qos        BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, topic)
);

CREATE TABLE org_settings (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE job_fences (
    job        TEXT COLLATE "C" PRIMARY KEY,
    fence      BIGINT NOT NULL DEFAULT 0,
    holder     TEXT COLLATE "C",
    updated_at TIMESTAMPTZ NOT NULL
);
