-- 0001_init: coordination tables, orgs, system key/value tables and the migration ledger.
-- Types (storage.md §1): T1 times are TEXT 'YYYY-MM-DD HH:MM:SS' UTC; working_files times are TEXT ISO-8601 'Z';
-- JSON lists are compact JSON TEXT; bools are INTEGER 0/1. Every org-scoped table references orgs(id).

CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

CREATE TABLE orgs (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    status               TEXT NOT NULL DEFAULT 'active',
    idp_provider         TEXT,
    idp_org_id           TEXT,
    allowlist_github_org TEXT,
    allowlist_idp_org_id TEXT,
    created_at           TEXT NOT NULL
);

INSERT INTO orgs (id, name, status, created_at)
VALUES ('default', 'Default Organization', 'active', strftime('%Y-%m-%d %H:%M:%S', 'now'));

CREATE TABLE system_config (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE system_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE agents (
    org_id        TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    modules       TEXT NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL DEFAULT 'offline',
    registered_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX agents_org_status_seen ON agents (org_id, status, last_seen_at);

CREATE TABLE agent_activity_status (
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id         TEXT NOT NULL,
    activity_status  TEXT NOT NULL DEFAULT 'idle',
    current_file     TEXT,
    current_thread   TEXT,
    last_activity_at TEXT,
    PRIMARY KEY (org_id, agent_id)
);

CREATE TABLE revoked_agents (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id   TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    revoked_by TEXT,
    PRIMARY KEY (org_id, agent_id)
);

CREATE TABLE threads (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    initiator_id         TEXT NOT NULL,
    subject              TEXT NOT NULL,
    plan                 TEXT,
    target_modules       TEXT NOT NULL DEFAULT '[]',
    target_files         TEXT NOT NULL DEFAULT '[]',
    depends_on_files     TEXT,
    exports_affected     TEXT,
    status               TEXT NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'resolving', 'resolved', 'cancelled', 'poisoned')),
    resolution_summary   TEXT,
    resolution_type      TEXT,
    conflicts            TEXT,
    round                INTEGER NOT NULL DEFAULT 1,
    max_rounds           INTEGER NOT NULL DEFAULT 4,
    timeout_seconds      INTEGER NOT NULL DEFAULT 600,
    keep_open            INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    resolved_at          TEXT,
    expected_respondents TEXT NOT NULL DEFAULT '[]',
    claimed_by           TEXT,
    claimed_at           TEXT,
    unclaim_count        INTEGER NOT NULL DEFAULT 0,
    assigned_to          TEXT,
    run_id               TEXT
);
CREATE INDEX threads_org_status ON threads (org_id, status);
CREATE INDEX threads_org_initiator ON threads (org_id, initiator_id);
CREATE INDEX threads_org_run ON threads (org_id, run_id);
CREATE INDEX threads_org_created ON threads (org_id, created_at);
-- The timeout sweeper scans live threads of every org.
CREATE INDEX threads_status ON threads (status);

CREATE TABLE thread_files (
    thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('target', 'depends')),
    file_path TEXT NOT NULL,
    org_id    TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    PRIMARY KEY (thread_id, kind, file_path)
);
CREATE INDEX thread_files_org_path ON thread_files (org_id, file_path, kind);

CREATE TABLE thread_messages (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    thread_id        TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    agent_id         TEXT NOT NULL,
    agent_name       TEXT,
    type             TEXT NOT NULL,
    content          TEXT NOT NULL,
    context_snapshot TEXT,
    in_reply_to      TEXT,
    round            INTEGER NOT NULL DEFAULT 1,
    token_estimate   INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL
);
CREATE INDEX thread_messages_thread_created ON thread_messages (thread_id, created_at);
CREATE INDEX thread_messages_org_created ON thread_messages (org_id, created_at);
CREATE INDEX thread_messages_org_agent ON thread_messages (org_id, agent_id);

CREATE TABLE action_summaries (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    session_id TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    file_path  TEXT,
    summary    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX action_summaries_org_agent_created ON action_summaries (org_id, agent_id, created_at);
CREATE INDEX action_summaries_org_session ON action_summaries (org_id, session_id);

CREATE TABLE events (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE org_sequences (
    org_id    TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE RESTRICT,
    event_seq INTEGER NOT NULL DEFAULT 0,
    index_seq INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE dependency_map (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    module_id  TEXT NOT NULL,
    depends_on TEXT NOT NULL DEFAULT '[]',
    exports    TEXT NOT NULL DEFAULT '[]',
    owners     TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (org_id, module_id)
);

CREATE TABLE file_activity (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    session_id      TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    agent_name      TEXT,
    tool_name       TEXT NOT NULL,
    file_path       TEXT NOT NULL,
    module          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    symbols_touched TEXT,
    content_hash    TEXT
);
CREATE INDEX file_activity_org_path_created ON file_activity (org_id, file_path, created_at);
CREATE INDEX file_activity_org_session_id ON file_activity (org_id, session_id, id);
CREATE INDEX file_activity_org_agent_created ON file_activity (org_id, agent_id, created_at);
CREATE INDEX file_activity_created ON file_activity (created_at);

CREATE TABLE introspections (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    thread_id    TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    agent_id     TEXT NOT NULL,
    score        INTEGER NOT NULL,
    reasons      TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'responded', 'expired')),
    response     TEXT,
    concerned    INTEGER,
    created_at   TEXT NOT NULL,
    responded_at TEXT
);
CREATE INDEX introspections_org_agent_status ON introspections (org_id, agent_id, status);
CREATE INDEX introspections_thread ON introspections (thread_id);

CREATE TABLE working_files (
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id         TEXT NOT NULL,
    file_path        TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    last_activity_at TEXT NOT NULL,
    claim_until      TEXT NOT NULL,
    PRIMARY KEY (org_id, agent_id, file_path)
);
CREATE INDEX working_files_org_path ON working_files (org_id, file_path);
CREATE INDEX working_files_claim_until ON working_files (claim_until);

CREATE TABLE git_cochange (
    org_id        TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    file_a        TEXT NOT NULL,
    file_b        TEXT NOT NULL,
    count         INTEGER NOT NULL DEFAULT 0,
    total_commits INTEGER NOT NULL DEFAULT 0,
    computed_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, file_a, file_b),
    CHECK (file_a < file_b)
);
CREATE INDEX git_cochange_org_a ON git_cochange (org_id, file_a);
CREATE INDEX git_cochange_org_b ON git_cochange (org_id, file_b);

CREATE TABLE git_cochange_meta (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    k      TEXT NOT NULL,
    v      TEXT,
    PRIMARY KEY (org_id, k)
);

CREATE TABLE layer_firings (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id    TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    thread_id TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    layer     TEXT NOT NULL,
    score     INTEGER NOT NULL,
    fired_at  TEXT NOT NULL
);
CREATE INDEX layer_firings_org_layer_fired ON layer_firings (org_id, layer, fired_at);
CREATE INDEX layer_firings_thread ON layer_firings (thread_id);
CREATE INDEX layer_firings_fired ON layer_firings (fired_at);

CREATE TABLE agent_inbox_state (
    org_id             TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id           TEXT NOT NULL,
    subscribed_at      TEXT NOT NULL,
    require_ack        INTEGER NOT NULL DEFAULT 0,
    open_batch_id      TEXT,
    dropped_total      INTEGER NOT NULL DEFAULT 0,
    dropped_unreported INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, agent_id)
);

CREATE TABLE agent_inbox (
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    agent_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    payload     BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    batch_id    TEXT,
    PRIMARY KEY (org_id, agent_id, seq)
);
CREATE INDEX agent_inbox_received ON agent_inbox (received_at);

CREATE TABLE mqtt_retained (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    qos        INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, topic)
);

CREATE TABLE org_settings (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE job_fences (
    job        TEXT PRIMARY KEY,
    fence      INTEGER NOT NULL DEFAULT 0,
    holder     TEXT,
    updated_at TEXT NOT NULL
);
