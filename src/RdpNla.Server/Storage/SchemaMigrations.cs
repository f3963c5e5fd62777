namespace RdpNla.Server.Storage;

/// <summary>
/// The database schema, one script per version. Version N is applied when <c>PRAGMA user_version</c> is N-1; scripts are
/// never edited once released, only appended. Times are UTC text in the fixed format of <see cref="SqliteTime"/> so that
/// they sort and compare as text.
/// </summary>
internal static class SchemaMigrations
{
    public static readonly IReadOnlyList<string> Scripts =
    [
        // Version 1: users and the authentication audit trail.
        """
        CREATE TABLE users (
            id                   INTEGER PRIMARY KEY,
            name                 TEXT    NOT NULL,
            name_key             TEXT    NOT NULL UNIQUE,
            nt_hash              BLOB    NOT NULL CHECK (length(nt_hash) = 16),
            disabled             INTEGER NOT NULL DEFAULT 0,
            locked_until         TEXT,
            failed_count         INTEGER NOT NULL DEFAULT 0,
            last_failed_at       TEXT,
            last_logon_at        TEXT,
            password_last_set    TEXT    NOT NULL,
            password_expired     INTEGER NOT NULL DEFAULT 0,
            must_change_password INTEGER NOT NULL DEFAULT 0,
            deny_remote_logon    INTEGER NOT NULL DEFAULT 0,
            created_at           TEXT    NOT NULL,
            updated_at           TEXT    NOT NULL
        ) STRICT;

        CREATE TABLE audit (
            id               INTEGER PRIMARY KEY,
            time             TEXT    NOT NULL,
            client_address   TEXT,
            client_port      INTEGER,
            user_name        TEXT,
            domain           TEXT,
            user_key         TEXT,
            credssp_version  INTEGER,
            security_protocol TEXT,
            outcome          TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'refused', 'error')),
            nt_status        INTEGER,
            nt_status_name   TEXT,
            reason           TEXT    NOT NULL,
            connection_id    TEXT    NOT NULL
        ) STRICT;

        CREATE INDEX audit_time ON audit (time);
        CREATE INDEX audit_user_time ON audit (user_key, time);
        CREATE INDEX audit_address_time ON audit (client_address, time);
        """,

        // Version 2: the gateway: per-user and per-group backends, mapped (sealed) backend credentials, backend
        // certificates trusted on first use, and one audit row per relayed session.
        """
        ALTER TABLE users ADD COLUMN backend TEXT;

        CREATE TABLE groups (
            id         INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            name_key   TEXT    NOT NULL UNIQUE,
            backend    TEXT,
            created_at TEXT    NOT NULL
        ) STRICT;

        CREATE TABLE group_members (
            group_id INTEGER NOT NULL,
            user_id  INTEGER NOT NULL,
            PRIMARY KEY (group_id, user_id)
        ) STRICT;

        CREATE TABLE mapped_credentials (
            user_id         INTEGER PRIMARY KEY,
            backend_user    TEXT    NOT NULL,
            backend_domain  TEXT    NOT NULL,
            password_sealed BLOB    NOT NULL,
            updated_at      TEXT    NOT NULL
        ) STRICT;

        CREATE TABLE backend_certificates (
            backend    TEXT PRIMARY KEY,
            sha256     TEXT NOT NULL,
            subject    TEXT,
            first_seen TEXT NOT NULL
        ) STRICT;

        CREATE TABLE gateway_sessions (
            id               INTEGER PRIMARY KEY,
            connection_id    TEXT    NOT NULL,
            user_name        TEXT,
            user_key         TEXT,
            client_address   TEXT,
            client_port      INTEGER,
            backend          TEXT    NOT NULL,
            backend_account  TEXT,
            credential_mode  TEXT,
            front_protocol   TEXT,
            backend_protocol TEXT,
            started_at       TEXT    NOT NULL,
            ended_at         TEXT    NOT NULL,
            bytes_to_backend INTEGER NOT NULL,
            bytes_to_client  INTEGER NOT NULL,
            outcome          TEXT    NOT NULL,
            reason           TEXT    NOT NULL
        ) STRICT;

        CREATE INDEX gateway_sessions_user_time ON gateway_sessions (user_key, started_at);

        CREATE TRIGGER users_delete_gateway AFTER DELETE ON users BEGIN
            DELETE FROM mapped_credentials WHERE user_id = OLD.id;
            DELETE FROM group_members WHERE user_id = OLD.id;
        END;

        CREATE TRIGGER groups_delete_members AFTER DELETE ON groups BEGIN
            DELETE FROM group_members WHERE group_id = OLD.id;
        END;
        """,

        // Version 3: the instance that wrote each audit row (--instance-name), as in the PostgreSQL store.
        """
        ALTER TABLE audit ADD COLUMN instance_name TEXT;
        """,
    ];

    /// <summary>The schema version this build creates and understands.</summary>
    public static int LatestVersion => Scripts.Count;
}
