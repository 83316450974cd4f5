//! Users: creation, lookup, listing, updates and deletion.

use super::*;

contract! {
    a_created_user_is_found_by_name_and_by_id,
    users_are_listed_in_byte_order_of_their_names,
    a_taken_user_name_is_user_exists,
    unknown_users_are_none,
    disabling_and_changing_the_password_hash_are_stored,
    updating_an_unknown_user_is_user_not_found,
}

fn a_created_user_is_found_by_name_and_by_id(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    let alice = user("alice");
    store.create(&alice).unwrap();

    assert_eq!(
        store.find_by_name(&alice.name).unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.find_by_id(alice.id).unwrap(), Some(alice));
}

fn users_are_listed_in_byte_order_of_their_names(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    for name in ["bob", "Ælfred", "alice", "Alice"] {
        store.create(&user(name)).unwrap();
    }

    let names: Vec<String> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|u| u.name.as_str().to_owned())
        .collect();
    // Byte order on both backends, whatever the PostgreSQL database's collation.
    assert_eq!(names, ["Alice", "alice", "bob", "Ælfred"]);
}

fn a_taken_user_name_is_user_exists(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    store.create(&user("alice")).unwrap();

    assert!(matches!(
        store.create(&user("alice")),
        Err(Error::UserExists)
    ));
    // Names are exact: another case is another name.
    store.create(&user("ALICE")).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
}

fn unknown_users_are_none(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    store.create(&user("alice")).unwrap();

    let nobody = UserName::parse("nobody").unwrap();
    assert_eq!(store.find_by_name(&nobody).unwrap(), None);
    assert_eq!(
        store.find_by_id(UserId::from_uuid(Uuid::new_v4())).unwrap(),
        None
    );
}

fn disabling_and_changing_the_password_hash_are_stored(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    let alice = user("alice");
    let bob = user("bob");
    store.create(&alice).unwrap();
    store.create(&bob).unwrap();

    store.set_disabled(alice.id, true).unwrap();
    let new_hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$other$hash".into());
    store.set_password_hash(alice.id, &new_hash).unwrap();

    let stored = store.find_by_id(alice.id).unwrap().unwrap();
    assert!(stored.disabled);
    assert_eq!(stored.password_hash, new_hash);
    assert_eq!(
        store.find_by_id(bob.id).unwrap(),
        Some(bob),
        "only alice changes"
    );

    store.set_disabled(alice.id, false).unwrap();
    assert!(!store.find_by_id(alice.id).unwrap().unwrap().disabled);
}

fn updating_an_unknown_user_is_user_not_found(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    let ghost = UserId::from_uuid(Uuid::new_v4());

    assert!(matches!(
        store.set_disabled(ghost, true),
        Err(Error::UserNotFound)
    ));
    let hash = PasswordHash::new("x".into());
    assert!(matches!(
        store.set_password_hash(ghost, &hash),
        Err(Error::UserNotFound)
    ));
}
