//! The tables, written once for both backends (see `types` for the column types).
//!
//! Must match `migrations/{sqlite,postgres}`; the contract tests exercise every column.

diesel::table! {
    use diesel::sql_types::{Bool, Text};
    use crate::db::types::sql::{Instant, Uuid};

    users (id) {
        id -> Uuid,
        user_name -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Nullable, Text};
    use crate::db::types::sql::{Instant, Uuid};

    token_families (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Instant,
        expires_at -> Instant,
        long_lived -> Bool,
        revoked_at -> Nullable<Instant>,
        revoke_reason -> Nullable<Text>,
        client_id -> Nullable<Text>,
        jkt -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::Nullable;
    use crate::db::types::sql::{Instant, Uuid};

    refresh_tokens (token_id) {
        token_id -> Uuid,
        family_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        access_token_id -> Uuid,
        issued_at -> Instant,
        expires_at -> Instant,
        used_at -> Nullable<Instant>,
    }
}

diesel::table! {
    use diesel::sql_types::{Binary, Bool, Text};
    use crate::db::types::sql::Instant;

    clients (id) {
        id -> Text,
        secret_digest -> Binary,
        allowed_grants -> Text,
        created_at -> Instant,
        introspect_any -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::db::types::sql::Instant;

    login_failures (key_digest) {
        key_digest -> Text,
        failures -> BigInt,
        last_failure_at -> Instant,
        blocked_until -> Nullable<Instant>,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::db::types::sql::{Instant, Uuid};

    security_events (id) {
        id -> BigInt,
        occurred_at -> Instant,
        kind -> Text,
        user_id -> Nullable<Uuid>,
        client_id -> Nullable<Text>,
        address -> Nullable<Text>,
        family_id -> Nullable<Uuid>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::Nullable;
    use crate::db::types::sql::{Instant, Uuid};

    /// Per-user cut-off for logins of users kept in a host's own table (see
    /// `Database::session_store_for_external_users`).
    session_cutoffs (user_id) {
        user_id -> Uuid,
        not_before -> Nullable<Instant>,
    }
}

diesel::table! {
    use diesel::sql_types::Text;
    use crate::db::types::sql::Instant;

    dpop_proofs (proof_digest) {
        proof_digest -> Text,
        expires_at -> Instant,
    }
}

// No `joinable!(token_families -> users)`: a family's user may live in a host's own table
// (migration sessions_without_user_fk).
diesel::joinable!(refresh_tokens -> token_families (family_id));
diesel::allow_tables_to_appear_in_same_query!(users, token_families, refresh_tokens);
