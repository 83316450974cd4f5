//! `GET /api/users/me`: who the bearer token belongs to.

use actix_web::HttpResponse;
use serde::Serialize;

use crate::auth::Authenticated;
use crate::response::no_store;

#[derive(Serialize)]
struct Me<'a> {
    id: String,
    #[serde(rename = "userName")]
    user_name: &'a str,
}

/// `{"id": …, "userName": …}` of the caller.
pub(crate) async fn me(caller: Authenticated) -> HttpResponse {
    no_store(&mut HttpResponse::Ok()).json(Me {
        id: caller.0.sub.to_string(),
        user_name: &caller.0.unique_name,
    })
}
