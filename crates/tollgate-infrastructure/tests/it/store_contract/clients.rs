//! Registered OAuth clients.

use super::*;

contract! {
    a_created_client_is_found_with_every_field,
    clients_are_listed_in_byte_order_of_their_ids,
    a_taken_client_id_is_conflict_and_keeps_the_first,
    an_unknown_client_is_none,
    removing_a_client_reports_whether_it_existed,
    client_grant_sets_round_trip,
    a_corrupt_client_row_is_unexpected_and_a_short_digest_is_refused,
    the_introspect_any_flag_is_stored_per_client,
}

fn client(id: &str) -> Client {
    let mut digest = [0u8; 32];
    for (i, b) in id.bytes().enumerate() {
        digest[i % 32] ^= b;
    }
    // Every byte value the column must keep, including NUL and 0xFF.
    digest[0] = 0x00;
    digest[31] = 0xFF;
    Client {
        id: ClientId::parse(id).unwrap(),
        secret_digest: SecretDigest::from_bytes(digest),
        allowed_grants: BTreeSet::from(GrantType::ALL),
        created_at: t0(),
        introspect_any: false,
    }
}

fn client_id(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}

fn a_created_client_is_found_with_every_field(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let app = client("web-app");
    store.create(&app).unwrap();

    assert_eq!(store.find(&app.id).unwrap(), Some(app));
}

fn clients_are_listed_in_byte_order_of_their_ids(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    assert!(store.list().unwrap().is_empty());
    for id in ["b", "a:b", "B", "a"] {
        store.create(&client(id)).unwrap();
    }

    let ids: Vec<String> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["B", "a", "a:b", "b"]);
}

fn a_taken_client_id_is_conflict_and_keeps_the_first(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let first = client("app");
    store.create(&first).unwrap();
    let mut second = client("app");
    second.secret_digest = SecretDigest::from_bytes([9; 32]);

    assert!(matches!(store.create(&second), Err(Error::Conflict(_))));
    assert_eq!(store.find(&first.id).unwrap(), Some(first));
    // Ids are exact: another case is another client.
    store.create(&client("APP")).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
}

fn an_unknown_client_is_none(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    store.create(&client("app")).unwrap();

    assert_eq!(store.find(&client_id("other")).unwrap(), None);
    assert_eq!(store.find(&client_id("App")).unwrap(), None);
}

fn removing_a_client_reports_whether_it_existed(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let gone = client("gone");
    let kept = client("kept");
    store.create(&gone).unwrap();
    store.create(&kept).unwrap();

    assert!(store.remove(&gone.id).unwrap());
    assert!(!store.remove(&gone.id).unwrap(), "already removed");
    assert!(!store.remove(&client_id("never-there")).unwrap());
    assert_eq!(store.find(&gone.id).unwrap(), None);
    assert_eq!(store.list().unwrap(), vec![kept]);
    // The id is free again.
    store.create(&gone).unwrap();
}

fn client_grant_sets_round_trip(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let sets = [
        BTreeSet::new(),
        BTreeSet::from([GrantType::Password]),
        BTreeSet::from([GrantType::RefreshToken]),
        BTreeSet::from(GrantType::ALL),
    ];
    for (i, grants) in sets.into_iter().enumerate() {
        let mut c = client(&format!("client-{i}"));
        c.allowed_grants = grants;
        // Sub-second precision survives too.
        c.created_at = t0() + Duration::microseconds(i64::try_from(i).unwrap());
        store.create(&c).unwrap();
        assert_eq!(store.find(&c.id).unwrap(), Some(c));
    }
}

/// Runs one statement on a connection of its own, bypassing the stores.
fn execute_raw(t: &TestDatabase, sql: &str) -> diesel::QueryResult<usize> {
    use diesel::{Connection, RunQueryDsl};
    match t.backend() {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => diesel::sql_query(sql)
            .execute(&mut diesel::SqliteConnection::establish(t.url()).unwrap()),
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            diesel::sql_query(sql).execute(&mut diesel::PgConnection::establish(t.url()).unwrap())
        }
        #[allow(unreachable_patterns)]
        other => panic!("{other:?} is not compiled in"),
    }
}

fn a_corrupt_client_row_is_unexpected_and_a_short_digest_is_refused(t: &TestDatabase) {
    // Columns named, so that columns added later with a default need no edit here.
    const INSERT: &str =
        "INSERT INTO clients (id, secret_digest, allowed_grants, created_at) VALUES";
    let db = connect(t);
    let store = db.client_store();
    let (digest, short, now) = match t.backend() {
        Backend::Sqlite => ("zeroblob(32)", "zeroblob(31)", "0"),
        Backend::Postgres => (
            "decode(repeat('00', 32), 'hex')",
            "decode(repeat('00', 31), 'hex')",
            "now()",
        ),
    };
    // A grant this version does not know, as a newer version or a hand edit might leave.
    execute_raw(
        t,
        &format!("{INSERT} ('future', {digest}, 'password device_code', {now})"),
    )
    .unwrap();
    assert!(matches!(
        store.find(&client_id("future")),
        Err(Error::Unexpected(_))
    ));
    assert!(matches!(store.list(), Err(Error::Unexpected(_))));
    // The schema itself refuses a digest that is not 32 bytes.
    assert!(execute_raw(
        t,
        &format!("{INSERT} ('short', {short}, 'password', {now})"),
    )
    .is_err());
}

fn the_introspect_any_flag_is_stored_per_client(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let mut resource_server = client("resource-server");
    resource_server.introspect_any = true;
    store.create(&resource_server).unwrap();
    let app = client("app");
    store.create(&app).unwrap();

    assert_eq!(
        store.find(&resource_server.id).unwrap(),
        Some(resource_server.clone())
    );
    assert_eq!(store.find(&app.id).unwrap(), Some(app.clone()));
    assert_eq!(store.list().unwrap(), vec![app, resource_server]);
}
