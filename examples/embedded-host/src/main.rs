//! Runs the host on 127.0.0.1:8090 with its data in `./host-data`.

use actix_web::{App, HttpServer};
use tollgate_application::Error;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("host-data")?;
    let issuer = "http://127.0.0.1:8090";
    let auth = embedded_host::tollgate(
        "host-data/host.db".as_ref(),
        "host-data/keys".as_ref(),
        issuer,
    )?;
    match auth
        .members
        .sign_up("ada", "correct horse", auth.hasher.as_ref())
    {
        Ok(_) | Err(Error::UserExists) => {}
        Err(e) => return Err(e.into()),
    }
    let auth = std::sync::Arc::new(auth);
    HttpServer::new(move || App::new().configure(embedded_host::routes(&auth)))
        .bind("127.0.0.1:8090")?
        .run()
        .await?;
    Ok(())
}
