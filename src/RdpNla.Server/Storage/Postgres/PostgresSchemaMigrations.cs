namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// The PostgreSQL schema, one script per version, recorded in <c>rdpnla_schema</c>. Scripts are never edited once
/// released, only appended. They run in one transaction under an advisory lock, so instances starting together
/// migrate one after the other (docs/high-availability.md).
/// </summary>
internal static class PostgresSchemaMigrations
{
    public static readonly IReadOnlyList<string> Scripts =
    [
        // Version 1: users (as SQLite version 1) and the audit trail of every instance, each row naming its instance.
        """
        CREATE TABLE users (
            id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name                 text        NOT NULL,
            name_key             text        NOT NULL UNIQUE,
            nt_hash              bytea       NOT NULL CHECK (octet_length(nt_hash) = 16),
            disabled             boolean     NOT NULL DEFAULT false,
            locked_until         timestamptz,
            failed_count         integer     NOT NULL DEFAULT 0,
            last_failed_at       timestamptz,
            last_logon_at        timestamptz,
            password_last_set    timestamptz NOT NULL,
            password_expired     boolean     NOT NULL DEFAULT false,
            must_change_password boolean     NOT NULL DEFAULT false,
            deny_remote_logon    boolean     NOT NULL DEFAULT false,
            created_at           timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL
        );

        CREATE TABLE audit (
            id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time              timestamptz NOT NULL,
            instance_name     text,
            client_address    text,
            client_port       integer,
            user_name         text,
            domain            text,
            user_key          text,
            credssp_version   integer,
            security_protocol text,
            outcome           text        NOT NULL CHECK (outcome IN ('success', 'failure', 'refused', 'error')),
            nt_status         bigint,
            nt_status_name    text,
            reason            text        NOT NULL,
            connection_id     text        NOT NULL
        );

        CREATE INDEX audit_time ON audit (time);
        CREATE INDEX audit_user_time ON audit (user_key, time);
        CREATE INDEX audit_address_time ON audit (client_address, time);
        """,

        // Version 2 (as SQLite version 5): logon attempts are reserved before the password is verified (LockoutRules),
        // and a name that matches no user writes to the decoy row instead, so both cost the same write.
        """
        ALTER TABLE users ADD COLUMN attempts_in_progress integer NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN attempts_in_progress_until timestamptz;

        CREATE TABLE attempt_decoy (
            id                   integer     PRIMARY KEY CHECK (id = 1),
            attempts_in_progress integer     NOT NULL,
            updated_at           timestamptz
        );

        INSERT INTO attempt_decoy (id, attempts_in_progress) VALUES (1, 0);
        """,

        // Version 3 (as SQLite versions 2 to 4): the gateway's tables, shared by every instance: per-user and per-group
        // backends, mapped (sealed) backend credentials, backend certificates trusted on first use, backend security
        // settings with their protocol pins, and one audit row per relayed session. Rows of a user or a group go with it.
        """
        ALTER TABLE users ADD COLUMN backend text;

        CREATE TABLE groups (
            id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name       text        NOT NULL,
            name_key   text        NOT NULL UNIQUE,
            backend    text,
            created_at timestamptz NOT NULL
        );

        CREATE TABLE group_members (
            group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
            user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, user_id)
        );

        CREATE INDEX group_members_user ON group_members (user_id);

        CREATE TABLE mapped_credentials (
            user_id         bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            backend_user    text        NOT NULL,
            backend_domain  text        NOT NULL,
            password_sealed bytea       NOT NULL,
            updated_at      timestamptz NOT NULL,
            backend         text
        );

        CREATE TABLE backend_certificates (
            backend    text        PRIMARY KEY,
            sha256     text        NOT NULL,
            subject    text,
            first_seen timestamptz NOT NULL
        );

        CREATE TABLE backend_security (
            backend            text PRIMARY KEY,
            security           text CHECK (security IN ('nla', 'tls', 'negotiate')),
            strongest_protocol text,
            strongest_rank     integer,
            strongest_sha256   text,
            strongest_at       timestamptz
        );

        CREATE TABLE gateway_sessions (
            id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            connection_id    text        NOT NULL,
            user_name        text,
            user_key         text,
            client_address   text,
            client_port      integer,
            backend          text        NOT NULL,
            backend_account  text,
            credential_mode  text,
            front_protocol   text,
            backend_protocol text,
            started_at       timestamptz NOT NULL,
            ended_at         timestamptz NOT NULL,
            bytes_to_backend bigint      NOT NULL,
            bytes_to_client  bigint      NOT NULL,
            outcome          text        NOT NULL,
            reason           text        NOT NULL
        );

        CREATE INDEX gateway_sessions_user_time ON gateway_sessions (user_key, started_at);
        """,

        // Version 4 (as SQLite version 6): the self-service portal (docs/portal.md): the second factor required per
        // user or group, salted digests of replaced NT hashes for the password history, and sealed TOTP secrets.
        """
        ALTER TABLE users ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;
        ALTER TABLE groups ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;

        CREATE TABLE password_history (
            id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            salt    bytea       NOT NULL CHECK (octet_length(salt) = 16),
            digest  bytea       NOT NULL CHECK (octet_length(digest) = 32),
            set_at  timestamptz NOT NULL
        );

        CREATE INDEX password_history_user ON password_history (user_id, id);

        CREATE TABLE totp_secrets (
            user_id       bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            secret_sealed bytea       NOT NULL,
            confirmed     boolean     NOT NULL DEFAULT false,
            last_step     bigint      NOT NULL DEFAULT 0,
            created_at    timestamptz NOT NULL,
            confirmed_at  timestamptz
        );
        """,

        // Version 5 (as SQLite version 8): domain accounts at the gateway (docs/active-directory.md): mapped backend
        // credentials of a domain user, keyed by NETBIOS\USER (no row in users), and backends chosen by domain group,
        // keyed by the group's SID.
        """
        CREATE TABLE domain_mapped_credentials (
            account_key     text        PRIMARY KEY,
            account_name    text        NOT NULL,
            backend_user    text        NOT NULL,
            backend_domain  text        NOT NULL,
            password_sealed bytea       NOT NULL,
            backend         text        NOT NULL,
            updated_at      timestamptz NOT NULL
        );

        CREATE TABLE domain_group_backends (
            group_sid  text        PRIMARY KEY,
            group_name text        NOT NULL,
            name_key   text        NOT NULL,
            backend    text        NOT NULL,
            updated_at timestamptz NOT NULL
        );
        """,
    ];

    /// <summary>The schema version this build creates and understands.</summary>
    public static int LatestVersion => Scripts.Count;
}
