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

        // Version 3, gateway backend security: the per-backend security setting (nla, tls, negotiate; none stored means
        // Gateway:BackendSecurity) and the protocol pin, the strongest protocol the backend selected so far with the
        // certificate it presented then.
        """
        CREATE TABLE backend_security (
            backend            TEXT PRIMARY KEY,
            security           TEXT CHECK (security IN ('nla', 'tls', 'negotiate')),
            strongest_protocol TEXT,
            strongest_rank     INTEGER,
            strongest_sha256   TEXT,
            strongest_at       TEXT
        ) STRICT;
        """,

        // Version 4, mapped credentials bound to their backend: the backend a mapped password was sealed for (the
        // sealing binds user, backend and backend account; rows sealed before have none and must be set again).
        """
        ALTER TABLE mapped_credentials ADD COLUMN backend TEXT;
        """,

        // Version 5: logon attempts are reserved before the password is verified (LockoutRules), and a name that
        // matches no user writes to a decoy row instead, so both cost the same write.
        """
        ALTER TABLE users ADD COLUMN attempts_in_progress INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN attempts_in_progress_until TEXT;

        CREATE TABLE attempt_decoy (
            id                   INTEGER PRIMARY KEY CHECK (id = 1),
            attempts_in_progress INTEGER NOT NULL,
            updated_at           TEXT
        ) STRICT;

        INSERT INTO attempt_decoy (id, attempts_in_progress) VALUES (1, 0);
        """,

        // Version 6: the self-service portal (docs/portal.md): the second factor required per user or group, salted
        // digests of replaced NT hashes for the password history, and sealed TOTP secrets.
        """
        ALTER TABLE users ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE groups ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 0;

        CREATE TABLE password_history (
            id      INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            salt    BLOB    NOT NULL CHECK (length(salt) = 16),
            digest  BLOB    NOT NULL CHECK (length(digest) = 32),
            set_at  TEXT    NOT NULL
        ) STRICT;

        CREATE INDEX password_history_user ON password_history (user_id, id);

        CREATE TABLE totp_secrets (
            user_id       INTEGER PRIMARY KEY,
            secret_sealed BLOB    NOT NULL,
            confirmed     INTEGER NOT NULL DEFAULT 0,
            last_step     INTEGER NOT NULL DEFAULT 0,
            created_at    TEXT    NOT NULL,
            confirmed_at  TEXT
        ) STRICT;

        CREATE TRIGGER users_delete_self_service AFTER DELETE ON users BEGIN
            DELETE FROM password_history WHERE user_id = OLD.id;
            DELETE FROM totp_secrets WHERE user_id = OLD.id;
        END;
        """,

        // Version 7: the instance that wrote each audit row (--instance-name), as in the PostgreSQL store.
        """
        ALTER TABLE audit ADD COLUMN instance_name TEXT;
        """,

        // Version 8: domain accounts at the gateway (docs/active-directory.md). Mapped backend credentials of a domain
        // user, keyed by the account's normalised name (NETBIOS\USER, upper-invariant; no row in users, no hash of
        // the domain user), and backends chosen by domain group, keyed by the group's SID as the DC reports it.
        """
        CREATE TABLE domain_mapped_credentials (
            account_key     TEXT PRIMARY KEY,
            account_name    TEXT NOT NULL,
            backend_user    TEXT NOT NULL,
            backend_domain  TEXT NOT NULL,
            password_sealed BLOB NOT NULL,
            backend         TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        ) STRICT;

        CREATE TABLE domain_group_backends (
            group_sid  TEXT PRIMARY KEY,
            group_name TEXT NOT NULL,
            name_key   TEXT NOT NULL,
            backend    TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT;
        """,
    ];

    /// <summary>The schema version this build creates and understands.</summary>
    public static int LatestVersion => Scripts.Count;
}
