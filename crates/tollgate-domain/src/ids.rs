use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID (from the id generator or from storage).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A user's stable id (the `sub` claim).
    UserId
);
uuid_id!(
    /// A token family, i.e. one login session (the access token's `sid`).
    FamilyId
);
uuid_id!(
    /// One refresh token (its `token_id` claim).
    TokenId
);
uuid_id!(
    /// One access token (its `jti` claim).
    AccessTokenId
);
